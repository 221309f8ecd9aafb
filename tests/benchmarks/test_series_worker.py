"""Series through a real Celery worker process: A, B, A, B ... one after another, and cancel."""

import pytest
from django.template.defaultfilters import floatformat

from dashboard.models import AuditEvent, BenchmarkRun, BenchmarkSeries
from tests.benchmarks.conftest import make_run
from tests.benchmarks.test_worker import schemas
from tests.conftest import wait_until

pytestmark = pytest.mark.worker

NEW_SERIES = "/projects/shop/benchmarks/series/new/"


@pytest.fixture
def quick_heartbeats(monkeypatch):
    """The worker started after this beats a running series' heartbeat every 2 s (stale after 10 s / 5)."""
    monkeypatch.setenv("TASK_STALE_AFTER_SECONDS", "10")


def start_series(client, project, duration_seconds=1) -> BenchmarkSeries:
    seed = make_run(project, connection="direct", duration_seconds=duration_seconds, target_key="")
    response = client.post(NEW_SERIES, {"a": seed.pk, "kind": "pooled-vs-direct", "repetitions": "2"})
    assert response.status_code == 302
    return BenchmarkSeries.objects.get()


def repetitions(series) -> list[BenchmarkRun]:
    return list(BenchmarkRun.objects.filter(series=series).order_by("pk"))


def test_a_series_runs_a_b_a_b_one_after_another_on_a_real_worker(
    client_for, project, target_db, celery_worker
):
    client = client_for("engineer")
    series = start_series(client, project)
    wait_until(lambda: BenchmarkSeries.objects.get(pk=series.pk).is_finished, timeout=120)
    series.refresh_from_db()
    assert series.status == "finished", series.error
    assert series.task_run.status == "succeeded"
    runs = repetitions(series)
    assert [(r.series_side, r.series_number, r.connection) for r in runs] == [
        ("A", 1, "direct"), ("B", 1, "pooled"), ("A", 2, "direct"), ("B", 2, "pooled"),
    ]  # fmt: skip
    for run in runs:
        assert run.status == "finished" and run.task_run.status == "succeeded", run.error
        assert run.result["transactions"] > 0 and run.duration_seconds == 1
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert earlier.finished_at <= later.started_at  # never two at once on the target
    assert schemas(target_db) == []  # each repetition dropped pgbench's schema afterwards
    done = client.get(f"/projects/shop/benchmarks/series/{series.pk}/", HTTP_HX_REQUEST="true")
    assert done.status_code == 286
    page = done.content.decode()
    assert "series-verdicts" in page and "Over 2 finished repetitions of A and 2 of B" in page
    for run in runs:
        assert floatformat(run.result["tps"], 1) in page and f">#{run.pk}<" in page
    shown = client.get(f"/projects/shop/benchmarks/{runs[3].pk}/").content.decode()
    assert f'Repetition B2 of <a href="/projects/shop/benchmarks/series/{series.pk}/">' in shown
    assert AuditEvent.objects.filter(action="benchmark.run", outcome="success").count() == 4
    assert AuditEvent.objects.get(action="benchmark.series_run").detail["status"] == "finished"


def test_cancelling_a_running_series_stops_its_repetition_and_starts_no_other(
    quick_heartbeats, client_for, project, target_db, celery_worker
):
    client = client_for("engineer")
    series = start_series(client, project, duration_seconds=60)  # long enough to cancel while it runs
    wait_until(lambda: len(getattr(BenchmarkRun.objects.filter(series=series).first(), "progress", [])) >= 3,
               timeout=60)  # fmt: skip
    first = BenchmarkRun.objects.get(series=series)
    series.task_run.refresh_from_db()
    # The series keeps its own heartbeat while the repetition runs, so it is never taken for lost.
    assert series.task_run.heartbeat_at > first.started_at
    page = client.get(f"/projects/shop/benchmarks/series/{series.pk}/").content.decode()
    assert (
        "Cancel series" in page and f"Repetition A1 (run #{first.pk}), 1 of 4" in page and " of 60 s," in page
    )
    client.post(f"/projects/shop/benchmarks/series/{series.pk}/cancel/")
    wait_until(lambda: BenchmarkSeries.objects.get(pk=series.pk).is_finished, timeout=20)
    series.refresh_from_db()
    first.refresh_from_db()
    assert series.status == "cancelled" and first.status == "cancelled"
    assert 0 < first.result["measured_seconds"] < 20 and first.result["cancelled"] is True
    assert repetitions(series) == [first]  # no later repetition started
    assert schemas(target_db) == []
    page = client.get(f"/projects/shop/benchmarks/series/{series.pk}/").content.decode()
    assert "Cancelled" in page and "Cancel series" not in page and "not run" in page
    assert AuditEvent.objects.filter(action="benchmark.series_cancel", outcome="success").count() == 1
