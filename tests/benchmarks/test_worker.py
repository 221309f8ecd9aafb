"""Benchmarks through a real Celery worker process: finished with results on the page, and cancel."""

import pytest
from django.template.defaultfilters import floatformat

from dashboard.models import BenchmarkRun, Project
from tests.benchmarks.conftest import query
from tests.conftest import wait_until
from tests.support import pg

pytestmark = pytest.mark.worker

NEW = "/projects/shop/benchmarks/new/"


def start(client, **fields) -> BenchmarkRun:
    data = {"workload": "select-only", "clients": "2", "duration_seconds": "2", "connection": "direct",
            "protocol": "prepared", "scale": "1", **fields}  # fmt: skip
    response = client.post(NEW, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return BenchmarkRun.objects.latest("pk")


def schemas(dbname: str) -> list[str]:
    return [r[0] for r in query(dbname, "SELECT nspname FROM pg_namespace WHERE nspname = 'neon_ops_bench'")]


@pytest.fixture
def shop(team, target_db):
    return Project.objects.create(team=team, name="Shop", slug="shop", pooled_url=pg.url_for(target_db))


def test_a_run_on_a_real_worker_finishes_with_results_on_the_page(client_for, shop, target_db, celery_worker):
    client = client_for("engineer")
    run = start(client, workload="tpcb-like", warmup="1")
    wait_until(lambda: BenchmarkRun.objects.get(pk=run.pk).is_finished, timeout=90)
    run.refresh_from_db()
    assert run.status == "finished", (run.error, run.phase)
    assert run.task_run.status == "succeeded"
    result = run.result
    assert result["transactions"] > 0 and result["tps"] > 0 and result["warmup_seconds"] == 1
    assert result["latency"]["p99_ms"] >= result["latency"]["p50_ms"] > 0
    assert len(run.progress) >= 3 and run.progress[0]["warmup"] is True
    # The user's database is left as it was: pgbench's schema was dropped afterwards.
    assert schemas(target_db) == []
    done = client.get(f"/projects/shop/benchmarks/{run.pk}/", HTTP_HX_REQUEST="true")
    assert done.status_code == 286
    page = done.content.decode()
    assert floatformat(result["tps"], 1) in page and "Latency histogram" in page and page.count("<svg") == 3


def test_cancel_from_the_page_stops_the_engine_within_seconds_and_cleans_up(
    client_for, shop, target_db, celery_worker
):
    client = client_for("engineer")
    run = start(client, duration_seconds="120")
    wait_until(lambda: len(BenchmarkRun.objects.get(pk=run.pk).progress) >= 2, timeout=60)
    client.post(f"/projects/shop/benchmarks/{run.pk}/cancel/")
    wait_until(lambda: BenchmarkRun.objects.get(pk=run.pk).is_finished, timeout=15)
    run.refresh_from_db()
    assert run.status == "cancelled" and run.result["cancelled"] is True
    assert 0 < run.result["measured_seconds"] < 20 and run.result["transactions"] > 0
    assert schemas(target_db) == []
    page = client.get(f"/projects/shop/benchmarks/{run.pk}/").content.decode()
    assert "Cancelled" in page and "measured before it stopped" in page


def test_a_refused_connection_ends_the_run_failed_with_a_clear_message(client_for, team, celery_worker):
    Project.objects.create(
        team=team, name="Shop", slug="shop", pooled_url=pg.url_for("no_such_database_here")
    )
    run = start(client_for("engineer"))
    wait_until(lambda: BenchmarkRun.objects.get(pk=run.pk).is_finished, timeout=60)
    run.refresh_from_db()
    assert run.status == "failed" and "does not exist" in run.error
    assert "password" not in run.error.lower() and pg.server()["password"] not in run.error
