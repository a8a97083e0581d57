"""The built-in provider stand-ins, under /sandbox/. The project routes them only in sandbox
mode (`CONNECTAPP_SANDBOX`, which the settings allow only under DEBUG), and every view answers
404 again unless the switch is on (see `common.sandbox_only`)."""

from django.urls import include, path

urlpatterns = [
    path("discogs/", include("connectapp.sandbox.discogs")),
    path("pinterest/", include("connectapp.sandbox.pinterest")),
]
