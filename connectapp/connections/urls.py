from django.urls import path

from . import views

app_name = "connections"

urlpatterns = [
    path("", views.index, name="index"),
    path("<int:account_id>/disconnect/", views.disconnect, name="disconnect"),
    path("<slug:provider>/connect/", views.connect, name="connect"),
    path("<slug:provider>/callback/", views.callback, name="callback"),
]
