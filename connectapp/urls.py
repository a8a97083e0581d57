from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from connectapp.connections.api import api
from connectapp.connections.views import healthz

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="connections:index"), name="home"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("connections/", include("connectapp.connections.urls")),
    path("healthz", healthz, name="healthz"),
    path("sandbox/", include("connectapp.sandbox.urls")),
]
