"""Routes of the health area."""

from django.urls import path

from dashboard.health import views

urlpatterns = [
    path("projects/<slug:slug>/health/", views.health_page, name="health_page"),
    path("projects/<slug:slug>/health/refresh/", views.health_refresh, name="health_refresh"),
]
