"""Public download route for export tokens."""

from django.urls import path

from integrations import views

urlpatterns = [
    path("api/downloads/<str:token>", views.download, name="download"),
]
