"""The standalone project of this repository: connectapp's apps in a site of their own.

Its settings (read from the environment), URLs, WSGI and ASGI entry points, and the `rundemo`
command. It is not part of the connectapp package, and not in the wheel: a host site has its
own project and installs only the apps.
"""
