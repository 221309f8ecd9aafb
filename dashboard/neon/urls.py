"""Routes of the neon area: the branches page and its actions."""

from django.urls import path

from dashboard.neon import views

B = "projects/<slug:slug>/branches/"
urlpatterns = [
    path(B, views.branch_list, name="branch_list"),
    path(B + "sync/", views.branch_sync, name="branch_sync"),
    path(B + "new/", views.branch_create, name="branch_create"),
    path(B + "tasks/<uuid:run_id>/", views.task_status, name="branch_task_status"),
    path(B + "<slug:branch_id>/delete/", views.branch_delete, name="branch_delete"),
    path(B + "<slug:branch_id>/reset/", views.branch_reset, name="branch_reset"),
    path(B + "<slug:branch_id>/start/", views.compute_start, name="compute_start"),
    path(B + "<slug:branch_id>/suspend/", views.compute_suspend, name="compute_suspend"),
    path(B + "<slug:branch_id>/wake/", views.compute_wake, name="compute_wake"),
]
