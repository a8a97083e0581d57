from django.urls import path

from . import views
from .api import pages as api_pages

app_name = "connections"

urlpatterns = [
    path("", views.index, name="index"),
    path("<int:account_id>/disconnect/", views.disconnect, name="disconnect"),
    path("session/<str:token>/", api_pages.connect_session, name="connect-session"),
    path("<slug:provider>/connect/", views.connect, name="connect"),
    path("<slug:provider>/callback/", views.callback, name="callback"),
]
