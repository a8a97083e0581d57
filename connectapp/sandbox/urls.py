"""The built-in provider stand-ins, under /sandbox/. Every view answers 404 unless
CONNECTAPP_SANDBOX is on (see `common.sandbox_only`)."""

urlpatterns = []
