"""Routes of the projects area: the registry, a project's overview, its connection check and audit log."""

from django.urls import path

from dashboard.projects import views

urlpatterns = [
    path("projects/", views.project_list, name="project_list"),
    path("projects/new/", views.project_new, name="project_new"),
    path("projects/<slug:slug>/", views.project_detail, name="project_detail"),
    path("projects/<slug:slug>/edit/", views.project_edit, name="project_edit"),
    path("projects/<slug:slug>/delete/", views.project_delete, name="project_delete"),
    path("projects/<slug:slug>/check/", views.project_check, name="project_check"),
    path("projects/<slug:slug>/check/status/", views.project_check_status, name="project_check_status"),
    path("projects/<slug:slug>/audit/", views.project_audit, name="project_audit"),
]
