"""Routes of the api area: token-authenticated endpoints for automation."""

from django.urls import path

from dashboard.api import views

urlpatterns = [
    path("api/v1/projects/<slug:slug>/health", views.api_health, name="api_health"),
    path("metrics", views.metrics, name="metrics"),
]
