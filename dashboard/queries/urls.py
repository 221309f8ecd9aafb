"""Routes of the queries area."""

from django.urls import path

from dashboard.queries import views

urlpatterns = [
    path("projects/<slug:slug>/queries/", views.queries_list, name="queries_list"),
    path("projects/<slug:slug>/queries/<str:queryid>/", views.query_detail, name="query_detail"),
    path("projects/<slug:slug>/queries/<str:queryid>/explain/", views.query_explain, name="query_explain"),
]
