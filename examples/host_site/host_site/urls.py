from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("backoffice/", admin.site.urls),
    # connectapp under a prefix of the host's choosing.
    path("me/linked-accounts/", include("connectapp.connections.urls")),
    path("sandbox/", include("connectapp.sandbox.urls")),
]
