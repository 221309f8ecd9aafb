"""Routes of the schema area (the `catname` converter lets any catalog name travel in a URL)."""

from django.urls import path

import dashboard.schema.converters  # noqa: F401  (registers the catname converter)
from dashboard.schema import views

# One-segment pages (refresh, advice, objects, diff, compare) cannot collide with two-segment table URLs,
# so a schema literally named "advice" or "diff" still has working table links.
urlpatterns = [
    path("projects/<slug:slug>/schema/", views.schema_overview, name="schema_overview"),
    path("projects/<slug:slug>/schema/refresh/", views.schema_refresh, name="schema_refresh"),
    path("projects/<slug:slug>/schema/advice/", views.schema_advice, name="schema_advice"),
    path("projects/<slug:slug>/schema/objects/", views.schema_objects, name="schema_objects"),
    path("projects/<slug:slug>/schema/diff/", views.schema_diff, name="schema_diff"),
    path("projects/<slug:slug>/schema/compare/", views.schema_diff_branches, name="schema_diff_branches"),
    path(
        "projects/<slug:slug>/schema/<catname:schema>/<catname:table>/",
        views.schema_table,
        name="schema_table",
    ),
]
