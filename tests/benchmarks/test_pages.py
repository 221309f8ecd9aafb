"""The benchmark pages: the start form's checks, the run list, a run's results and charts, escaping."""

import pytest
from django.template.defaultfilters import floatformat
from django.test import override_settings

from dashboard.benchmarks import services
from dashboard.benchmarks.execution import execute_benchmark
from dashboard.models import AuditEvent, BenchmarkRun, Project, TaskRun
from dashboard.taskruns import lifecycle
from tests.benchmarks.conftest import make_run
from tests.support import pg

pytestmark = pytest.mark.django_db

NEW = "/projects/shop/benchmarks/new/"
VALID = {"workload": "select-only", "clients": "2", "duration_seconds": "5", "connection": "direct",
         "protocol": "prepared", "scale": "1"}  # fmt: skip


def counts():
    return BenchmarkRun.objects.count(), TaskRun.objects.count()


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"clients": "33"}, "clients", "At most 32"),
        ({"clients": "0"}, "clients", "greater than or equal to 1"),
        ({"duration_seconds": "601"}, "duration_seconds", "At most 600"),
        ({"duration_seconds": "ten"}, "duration_seconds", "Enter a whole number"),
        ({"workload": "drop-everything"}, "workload", "Select a valid choice"),
        ({"connection": "sideways"}, "connection", "Select a valid choice"),
        ({"workload": "custom", "script": ""}, "script", "Write the custom script"),
        ({"workload": "custom", "script": "SELECT 1;\n\\set x random(1)\n"}, "script", "custom line 2:"),
        ({"workload": "custom", "script": "\\set x 1\n\\sleep :nope ms\nSELECT :x;"}, "script", "line 2"),
        ({"workload": "cold-start"}, "workload", "Cold starts need a Neon project"),
    ],
)
def test_bad_input_gets_a_clear_message_and_changes_nothing(client_for, shop, changes, field, message):
    before = counts()
    response = client_for("engineer").post(NEW, {**VALID, **changes})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert counts() == before
    assert message.replace("<", "&lt;") in response.content.decode()


def test_limits_come_from_settings(client_for, shop):
    with override_settings(BENCHMARK_MAX_CLIENTS=4, BENCHMARK_MAX_DURATION_SECONDS=30):
        response = client_for("engineer").post(NEW, {**VALID, "clients": "5", "duration_seconds": "31"})
    assert response.status_code == 400
    assert "At most 4" in str(response.context["form"].errors["clients"])
    assert "At most 30" in str(response.context["form"].errors["duration_seconds"])


def test_a_valid_start_queues_one_run_with_time_limits_that_follow_the_duration(
    client_for, shop, users, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for("engineer").post(NEW, {**VALID, "duration_seconds": "40", "warmup": "5"})
    run = BenchmarkRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/projects/shop/benchmarks/{run.pk}/"
    assert (run.status, run.clients, run.duration_seconds, run.warmup_seconds) == ("queued", 2, 40, 5)
    assert run.task_run.kind == "benchmarks.run" and run.task_run.params == {"benchmark_id": run.pk}
    assert run.created_by == users["engineer"] and not run.use_temporary_branch  # plain Postgres: own schema
    assert len(callbacks) == 1
    soft, hard = services.time_limits(run)
    assert soft == 45 + 30 + 300 and hard == soft + 120
    assert AuditEvent.objects.filter(action="benchmark.start", outcome="success").count() == 1


def test_one_benchmark_per_target_at_a_time(client_for, shop):
    client = client_for("engineer")
    assert client.post(NEW, VALID).status_code == 302
    first = BenchmarkRun.objects.get()
    before = counts()
    second = client.post(NEW, VALID)
    assert second.status_code == 400
    assert f"already queued or running on this target (run #{first.pk})" in second.content.decode()
    assert counts() == before
    # Once it ended, the target is free again.
    BenchmarkRun.objects.filter(pk=first.pk).update(status="finished")
    assert client.post(NEW, VALID).status_code == 302


def test_the_database_refuses_a_second_active_run_even_past_the_form(shop):
    services.start_benchmark(shop, None, {"workload": "select-only"})
    with pytest.raises(services.BenchmarkRefused, match="one benchmark per target"):
        services.start_benchmark(shop, None, {"workload": "tpcb-like"})
    assert BenchmarkRun.objects.count() == 1


def test_runs_are_listed_newest_first_and_paged(client_for, shop, settings):
    settings.BENCHMARK_RUNS_PER_PAGE = 2
    runs = [make_run(shop) for _ in range(3)]
    first = client_for("viewer").get("/projects/shop/benchmarks/").content.decode()
    assert first.index(f">#{runs[2].pk}<") < first.index(f">#{runs[1].pk}<")
    assert f">#{runs[0].pk}<" not in first and "Page 1 of 2" in first
    second = client_for("viewer").get("/projects/shop/benchmarks/?page=2").content.decode()
    assert f">#{runs[0].pk}<" in second
    assert "New benchmark" not in first  # viewers look, they do not start


def test_a_finished_run_shows_its_figures_errors_and_charts(client_for, shop, measured_results):
    result = {**measured_results["one"], "errors_by_sqlstate": {"40001": 3}, "failed_transactions": 3}
    run = make_run(shop, result)
    page = client_for("viewer").get(f"/projects/shop/benchmarks/{run.pk}/").content.decode()
    assert floatformat(result["tps"], 1) in page
    for key in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms"):
        assert floatformat(result["latency"][key], 3) in page
    assert "<code>40001</code>" in page and "Initial connections" in page
    assert page.count("<svg") == 3
    for title in ("Latency histogram", "Transactions per second", "p99 latency per second"):
        assert title in page
    assert "<rect" in page and "<polyline" in page
    assert "Cancel benchmark" not in page and "Compare pooled vs direct" not in page  # a viewer


def test_the_run_partial_polls_until_the_run_ends(client_for, shop, measured_results):
    run = make_run(shop, status="running", progress=[
        {"second": 0, "tps": 900.0, "p50_ms": 0.5, "p99_ms": 1.5, "errors": 0, "warmup": False},
        {"second": 1, "tps": 950.0, "p50_ms": 0.5, "p99_ms": 1.2, "errors": 0, "warmup": False},
    ], phase="2 of 10 s, 1850 transactions, 0 errors")  # fmt: skip
    client = client_for("engineer")
    live = client.get(f"/projects/shop/benchmarks/{run.pk}/", HTTP_HX_REQUEST="true")
    body = live.content.decode()
    assert live.status_code == 200 and 'hx-trigger="every 1s"' in body
    assert "2 of 10 s, 1850 transactions" in body and "Cancel benchmark" in body
    assert "<polyline" in body  # tps and p99 drawn live from the progress points
    BenchmarkRun.objects.filter(pk=run.pk).update(status="finished", result=measured_results["one"])
    done = client.get(f"/projects/shop/benchmarks/{run.pk}/", HTTP_HX_REQUEST="true")
    assert done.status_code == 286 and "hx-trigger" not in done.content.decode()
    assert "Latency histogram" in done.content.decode()


def test_cancelling_a_queued_run_ends_it_before_a_worker_takes_it(client_for, shop):
    client = client_for("engineer")
    client.post(NEW, VALID)
    run = BenchmarkRun.objects.get()
    response = client.post(f"/projects/shop/benchmarks/{run.pk}/cancel/", follow=True)
    assert "cancelled before it started" in response.content.decode()
    run.refresh_from_db()
    assert run.status == "cancelled" and run.finished_at is not None
    # The worker that takes the queued task later does nothing.
    task = lifecycle.claim(str(run.task_run_id))
    execute_benchmark(task)
    task.refresh_from_db()
    run.refresh_from_db()
    assert task.status == "succeeded" and task.progress == "Cancelled before it started"
    assert run.status == "cancelled" and run.started_at is None
    assert AuditEvent.objects.filter(action="benchmark.cancel").count() == 1


HOSTILE = "<script>alert('x')</script> \"q\" -- ünï"


def test_hostile_script_text_and_names_are_escaped(client_for, team, shop_database, measured_results):
    project = Project.objects.create(
        team=team, name=HOSTILE, slug="shop", pooled_url=pg.url_for(shop_database)
    )
    script = f"-- {HOSTILE}\n\\set aid random(1, 10)\nSELECT '{HOSTILE.replace(chr(39), chr(39) * 2)}' /* */, :aid;\n"
    run = make_run(project, measured_results["one"], workload="custom", script=script, error=HOSTILE)
    for url in (f"/projects/shop/benchmarks/{run.pk}/", "/projects/shop/benchmarks/",
                f"/projects/shop/benchmarks/compare/?a={run.pk}&b={run.pk}"):  # fmt: skip
        page = client_for("viewer").get(url).content.decode()
        assert "<script>alert" not in page, url
    assert (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
        in client_for("viewer").get(f"/projects/shop/benchmarks/{run.pk}/").content.decode()
    )
    # A hostile custom script is accepted as text only when it parses; it never reaches a page raw.
    response = client_for("engineer").post(
        NEW, {**VALID, "workload": "custom", "script": f"\\set {HOSTILE}\n"}
    )
    assert response.status_code == 400 and "<script>alert" not in response.content.decode()
