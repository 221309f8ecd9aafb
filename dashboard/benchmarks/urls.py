"""Routes of the benchmarks area (a contract: tests use these literal URLs)."""

from django.urls import path

from dashboard.benchmarks import views

B = "projects/<slug:slug>/benchmarks/"
urlpatterns = [
    path(B, views.benchmark_list, name="benchmark_list"),
    path(B + "new/", views.benchmark_new, name="benchmark_new"),
    path(B + "compare/", views.benchmark_compare, name="benchmark_compare"),
    path(B + "<int:benchmark_id>/", views.benchmark_detail, name="benchmark_detail"),
    path(B + "<int:benchmark_id>/cancel/", views.benchmark_cancel, name="benchmark_cancel"),
    path(B + "<int:benchmark_id>/counterpart/", views.benchmark_counterpart, name="benchmark_counterpart"),
    path(B + "series/new/", views.benchmark_series_new, name="benchmark_series_new"),
    path(B + "series/<int:series_id>/", views.benchmark_series, name="benchmark_series"),
    path(B + "series/<int:series_id>/cancel/", views.benchmark_series_cancel, name="benchmark_series_cancel"),
]
