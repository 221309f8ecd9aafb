from django.urls import include, path

from migrations_app import views

urlpatterns = [
    path("projects/<slug:slug>/migrations/", views.migration_list, name="migration_list"),
    path("", include("migrations_app.history.urls")),
]
