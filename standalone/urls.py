from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from connectapp import conf

# The standalone project's Celery app becomes the current one in its web processes, so the
# tasks the views queue go to its broker (a host site loads its own app the same way).
from connectapp.celery import app as celery_app  # noqa: F401
from connectapp.connections.api import api
from connectapp.connections.views import healthz

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="connections:index"), name="home"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("connections/", include("connectapp.connections.urls")),
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
]

if conf.value("SANDBOX"):
    # The provider stand-ins are routed only in sandbox mode, which the settings allow only
    # under DEBUG; each of their views checks the switch again on every request.
    urlpatterns.append(path("sandbox/", include("connectapp.sandbox.urls")))
