from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from connectapp.connections.views import healthz

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="connections:index"), name="home"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("connections/", include("connectapp.connections.urls")),
    path("healthz", healthz, name="healthz"),
]

if settings.CONNECTAPP_SANDBOX:
    # The provider stand-ins are routed only in sandbox mode, which the settings allow only
    # under DEBUG; each of their views checks the switch again on every request.
    urlpatterns.append(path("sandbox/", include("connectapp.sandbox.urls")))
