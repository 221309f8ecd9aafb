"""URL map of the dashboard app (wiring only): each area lists its own routes in its urls.py."""

from django.urls import include, path

AREAS = ("projects", "teams", "neon", "schema", "queries", "activity", "health", "api", "benchmarks")

urlpatterns = [path("", include(f"dashboard.{area}.urls")) for area in AREAS]
