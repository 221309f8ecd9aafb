from django.urls import path

from migrations_app import views

urlpatterns = [
    path("projects/<slug:slug>/migrations/", views.migration_list, name="migration_list"),
]
