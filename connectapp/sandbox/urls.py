"""The built-in provider stand-ins, under /sandbox/. Every view answers 404 unless
CONNECTAPP_SANDBOX is on (see `common.sandbox_only`)."""

from django.urls import include, path

urlpatterns = [
    path("discogs/", include("connectapp.sandbox.discogs")),
    path("pinterest/", include("connectapp.sandbox.pinterest")),
]
