"""Routes of the queries area."""

from django.urls import path

from dashboard.queries import views

urlpatterns = [
    path("projects/<slug:slug>/queries/", views.queries_list, name="queries_list"),
    # Before <queryid>/: "collect" would otherwise be taken for a query id.
    path("projects/<slug:slug>/queries/collect/", views.queries_collect, name="queries_collect"),
    path("projects/<slug:slug>/queries/<str:queryid>/", views.query_detail, name="query_detail"),
    path("projects/<slug:slug>/queries/<str:queryid>/explain/", views.query_explain, name="query_explain"),
    path(
        "projects/<slug:slug>/queries/<str:queryid>/explain/branch/",
        views.query_explain_branch,
        name="query_explain_branch",
    ),
    path(
        "projects/<slug:slug>/queries/<str:queryid>/explain/branch/cancel/",
        views.query_explain_branch_cancel,
        name="query_explain_branch_cancel",
    ),
]
