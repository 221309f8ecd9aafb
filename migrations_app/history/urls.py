from django.urls import path

from migrations_app.history import views

urlpatterns = [
    path(
        "projects/<slug:slug>/migrations/history/refresh/",
        views.history_refresh,
        name="migration_history_refresh",
    ),
]
