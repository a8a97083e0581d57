from django.contrib.auth.views import LoginView
from django.http import JsonResponse
from django.urls import include, path
from oauth2_provider.views.generic import ProtectedResourceView


class Me(ProtectedResourceView):
    """A protected resource answering who the Bearer token belongs to, nested like many APIs."""

    def get(self, request, *args, **kwargs):
        user = request.resource_owner
        if user is None:
            # A client-credentials token is valid but stands for no user.
            return JsonResponse({"data": {"user": None}})
        return JsonResponse({"data": {"user": {"id": user.pk, "login": user.username}}})


urlpatterns = [
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("api/me/", Me.as_view()),
]
