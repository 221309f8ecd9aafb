"""URL map of the dashboard app; each area's view module lists its own routes."""

from django.urls import path

from dashboard.views import activity, api, branches, projects, queries, schema, teams

urlpatterns = [
    path("projects/", projects.project_list, name="project_list"),
    path("projects/new/", projects.project_new, name="project_new"),
    path("projects/<slug:slug>/", projects.project_detail, name="project_detail"),
    path("projects/<slug:slug>/edit/", projects.project_edit, name="project_edit"),
    path("projects/<slug:slug>/delete/", projects.project_delete, name="project_delete"),
    path("projects/<slug:slug>/check/", projects.project_check, name="project_check"),
    path("projects/<slug:slug>/check/status/", projects.project_check_status, name="project_check_status"),
    path("projects/<slug:slug>/audit/", projects.project_audit, name="project_audit"),
]
urlpatterns += teams.urlpatterns
urlpatterns += branches.urlpatterns + schema.urlpatterns + queries.urlpatterns + activity.urlpatterns
urlpatterns += api.urlpatterns
