"""Routes of the activity area."""

from django.urls import path

from dashboard.activity import views

urlpatterns = [
    path("projects/<slug:slug>/activity/", views.activity_page, name="activity_page"),
    path(
        "projects/<slug:slug>/activity/<int:pid>/cancel/",
        views.activity_signal,
        {"action": "cancel"},
        name="activity_cancel",
    ),
    path(
        "projects/<slug:slug>/activity/<int:pid>/terminate/",
        views.activity_signal,
        {"action": "terminate"},
        name="activity_terminate",
    ),
]
