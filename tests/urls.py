"""The project's URLs as sandbox mode routes them, for tests that turn the sandbox on at run
time (the project's own URL list is fixed when it is first imported, with the sandbox off)."""

from django.urls import include, path

from standalone.urls import urlpatterns as project_urlpatterns

urlpatterns = [*project_urlpatterns, path("sandbox/", include("connectapp.sandbox.urls"))]
