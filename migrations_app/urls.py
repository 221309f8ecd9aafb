from django.urls import include, path

from migrations_app import views

M = "projects/<slug:slug>/migrations/"
R = M + "<int:migration_id>/"
urlpatterns = [
    path(M, views.migration_list, name="migration_list"),
    path(M + "new/", views.migration_new, name="migration_new"),
    path(M + "policy/", views.migration_policy, name="migration_policy"),
    path(R, views.migration_detail, name="migration_detail"),
    path(R + "edit/", views.migration_edit, name="migration_edit"),
    path(R + "approve/", views.migration_approve, name="migration_approve"),
    path(R + "reject/", views.migration_reject, name="migration_reject"),
    path(R + "rehearse/", views.migration_rehearse, name="migration_rehearse"),
    path(R + "apply/", views.migration_apply, name="migration_apply"),
    path(R + "cancel/", views.migration_cancel, name="migration_cancel"),
    path(R + "restore/", views.migration_restore, name="migration_restore"),
    path(R + "progress/", views.migration_progress, name="migration_progress"),
    path("", include("migrations_app.history.urls")),
]
