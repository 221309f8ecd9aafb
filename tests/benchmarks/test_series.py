"""Series of interleaved repetitions A, B, A, B ... started from a run's page or the compare page.

Started and checked here in this process (the task body runs as the worker runs it); through
a real worker in test_series_worker.py; in Chromium in test_browser.py.
"""

import re
from datetime import timedelta
from statistics import mean

import pytest
from django.template.defaultfilters import floatformat
from django.utils import timezone

from dashboard.benchmarks import series as series_services
from dashboard.benchmarks.engine.workloads import initialise
from dashboard.benchmarks.tasks import run_series
from dashboard.models import AuditEvent, BenchmarkRun, BenchmarkSeries, NeonBranch, Project, TaskRun
from dashboard.neon.sync import sync_project
from dashboard.taskruns import lifecycle
from tests.benchmarks.conftest import make_run, real_result
from tests.benchmarks.test_neon import branch_names, default_endpoint
from tests.neon.test_sync import make_branch
from tests.support import pg

pytestmark = pytest.mark.django_db

NEW_SERIES = "/projects/shop/benchmarks/series/new/"


def counts():
    return BenchmarkSeries.objects.count(), BenchmarkRun.objects.count(), TaskRun.objects.count()


def repeat(client, run, slug="shop", follow=False, **fields):
    data = {"a": str(run.pk), "kind": "pooled-vs-direct", "repetitions": "2", **fields}
    given = {k: v for k, v in data.items() if v is not None}
    return client.post(f"/projects/{slug}/benchmarks/series/new/", given, follow=follow)


def run_series_here(series: BenchmarkSeries) -> BenchmarkSeries:
    """The series task in this process, as the worker runs it (claim, then every repetition)."""
    run_series(str(series.task_run_id))
    series.refresh_from_db()
    return series


def seed(project, **fields):
    """A finished 1-second run to repeat (its own result does not enter the series)."""
    values = {"connection": "direct", "duration_seconds": 1, "target_key": "", **fields}
    return make_run(project, **values)


@pytest.fixture(scope="module")
def paced(django_db_blocker):
    """Real runs held to 50 and 150 transactions a second (open loop): two of each, 1.5 s each."""
    name = pg.create_database("benchseries")
    with pg.admin_connect(name) as conn:
        initialise(conn, scale=1)
    results = {
        rate: [real_result(name, rate=rate, duration_seconds=1.5) for _ in range(2)] for rate in (50, 150)
    }
    pg.drop_database(name)
    return results


def make_series(project, a_results, b_results, **fields):
    series = BenchmarkSeries.objects.create(
        project=project,
        repetitions_each=len(a_results),
        differs_in="rate 50 → 150",
        status="finished",
        **fields,
    )
    for number, (a, b) in enumerate(zip(a_results, b_results, strict=True), start=1):
        make_run(project, a, series=series, series_side="A", series_number=number)
        make_run(project, b, series=series, series_side="B", series_number=number)
    return series


def verdicts(page: str) -> list[str]:
    table = page[page.index('id="series-verdicts"') :]
    return [part.split("</span>")[0].split(">")[-1] for part in table.split('<span class="badge')[1:4]]


# --- starting --------------------------------------------------------------------------------


def test_repeating_a_run_queues_one_series_task_with_limits_that_cover_every_repetition(client_for, shop):
    run = seed(shop, clients=2, duration_seconds=5, warmup_seconds=1)
    response = repeat(client_for("engineer"), run, repetitions="3")
    series = BenchmarkSeries.objects.get()
    assert (
        response.status_code == 302
        and response["Location"] == f"/projects/shop/benchmarks/series/{series.pk}/"
    )
    assert (series.status, series.repetitions_each, series.baseline, series.candidate) == (
        "queued",
        3,
        run,
        None,
    )
    assert series.task_run.kind == "benchmarks.series" and series.task_run.params == {"series_id": series.pk}
    assert series.a_options["connection"] == "direct" and series.b_options["connection"] == "pooled"
    assert series.a_options["clients"] == series.b_options["clients"] == 2
    assert series.differs_in == "connection direct → pooled"
    assert BenchmarkRun.objects.count() == 1  # repetitions are created when their turn comes
    first, second = series_services.sides_for(run, kind="pooled-vs-direct", is_admin=False)
    soft, hard = series_services.time_limits(shop, first, second, 3)
    assert soft == 3 * 2 * (6 + 30 + 300) and hard == soft + 120
    event = AuditEvent.objects.get(action="benchmark.series_start")
    assert event.outcome == "success" and event.detail["repetitions"] == 3
    page = client_for("viewer").get(response["Location"]).content.decode()
    assert "connection direct → pooled" in page and page.count('data-repetition="') == 6
    assert "waiting" in page and 'hx-trigger="every 1s"' in page and "Cancel series" not in page


def test_the_run_page_offers_the_series_to_engineers_only(client_for, shop, measured_results):
    run = seed(shop, result=measured_results["one"])
    engineer = client_for("engineer").get(f"/projects/shop/benchmarks/{run.pk}/").content.decode()
    assert "Repeat as a series" in engineer and 'name="repetitions"' in engineer
    assert '<option value="pooled-vs-direct">pooled instead of direct</option>' in engineer
    assert 'max="10"' in engineer and "parent-branch" not in engineer  # plain Postgres: no parent branch
    viewer = client_for("viewer").get(f"/projects/shop/benchmarks/{run.pk}/").content.decode()
    assert "Repeat as a series" not in viewer and "Compare with another run" in viewer


def test_the_compare_page_repeats_both_runs_as_they_are(client_for, shop, measured_results):
    a = seed(shop, result=measured_results["one"])
    b = seed(shop, result=measured_results["two"], clients=2, connection="pooled")
    url = f"/projects/shop/benchmarks/compare/?a={a.pk}&b={b.pk}"
    assert "Repeat as a series" in client_for("engineer").get(url).content.decode()
    assert "Repeat as a series" not in client_for("viewer").get(url).content.decode()
    response = repeat(client_for("engineer"), a, b=str(b.pk), kind=None)
    series = BenchmarkSeries.objects.get()
    assert response["Location"] == f"/projects/shop/benchmarks/series/{series.pk}/"
    assert (series.baseline, series.candidate) == (a, b)
    assert series.differs_in == "clients 1 → 2; connection direct → pooled"
    assert (series.a_options["clients"], series.b_options["clients"]) == (1, 2)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"repetitions": "1"}, "greater than or equal to 2"),
        ({"repetitions": "11"}, "At most 10 (a limit of this dashboard)"),
        ({"repetitions": "many"}, "Enter a whole number"),
        ({"kind": ""}, "Choose what B changes"),
        ({"kind": "sideways"}, "Select a valid choice"),
        ({"kind": "parent-branch"}, "has no parent branch known to the dashboard"),
    ],
)
def test_bad_series_input_gets_a_clear_message_and_changes_nothing(client_for, shop, fields, message):
    run = seed(shop)
    before = counts()
    response = repeat(client_for("engineer"), run, follow=True, **fields)
    assert response.redirect_chain == [(f"/projects/shop/benchmarks/{run.pk}/", 302)]
    assert message in response.content.decode()
    assert counts() == before


def test_the_repetition_limit_comes_from_settings(client_for, shop, settings, measured_results):
    settings.BENCHMARK_MAX_SERIES_REPETITIONS = 3
    run = seed(shop, result=measured_results["one"])
    assert "At most 3" in repeat(client_for("engineer"), run, follow=True, repetitions="4").content.decode()
    assert not BenchmarkSeries.objects.exists()
    assert 'max="3"' in client_for("engineer").get(f"/projects/shop/benchmarks/{run.pk}/").content.decode()
    assert repeat(client_for("engineer"), run, repetitions="3").status_code == 302
    assert BenchmarkSeries.objects.get().repetitions_each == 3


def test_cold_start_runs_and_unknown_runs_are_not_repeated(client_for, shop, other_team):
    cold = seed(shop, workload="cold-start")
    before = counts()
    response = repeat(client_for("engineer"), cold, follow=True)
    assert "Cold-start runs are not repeated as a series" in response.content.decode()
    assert counts() == before
    elsewhere = Project.objects.create(team=other_team, name="Else", slug="else", pooled_url=shop.pooled_url)
    foreign = make_run(elsewhere)
    before = counts()
    assert repeat(client_for("admin"), foreign).status_code == 404
    assert (
        client_for("admin")
        .post(NEW_SERIES, {"a": "1x", "kind": "pooled-vs-direct", "repetitions": "2"})
        .status_code
        == 404
    )
    assert counts() == before


def test_one_benchmark_per_target_holds_while_a_series_is_queued_or_running(client_for, shop):
    client = client_for("engineer")
    run = seed(shop)
    repeat(client, run)
    series = BenchmarkSeries.objects.get()
    before = counts()
    single = client.post("/projects/shop/benchmarks/new/", {"workload": "select-only", "clients": "1",
                         "duration_seconds": "1", "connection": "direct", "protocol": "prepared", "scale": "1"})  # fmt: skip
    assert single.status_code == 400
    assert f"already queued or running on this target (series #{series.pk})" in single.content.decode()
    second = repeat(client, run)
    assert f"(series #{series.pk})" in client.get(second["Location"]).content.decode()
    assert counts() == before
    BenchmarkSeries.objects.update(status="finished")
    busy = make_run(shop, status="running", target_key="")
    refused = repeat(client, run, follow=True).content.decode()
    assert f"already queued or running on this target (run #{busy.pk})" in refused
    assert BenchmarkSeries.objects.count() == 1
    BenchmarkRun.objects.filter(pk=busy.pk).update(status="finished")
    assert repeat(client, run).status_code == 302 and BenchmarkSeries.objects.count() == 2


# --- running -----------------------------------------------------------------------------


def test_a_failed_repetition_ends_the_series_with_its_reason(client_for, team):
    project = Project.objects.create(
        team=team, name="Shop", slug="shop", pooled_url=pg.url_for("no_such_db_here")
    )
    repeat(client_for("engineer"), seed(project))
    series = run_series_here(BenchmarkSeries.objects.get())
    first = BenchmarkRun.objects.get(series=series)  # B1 never started
    assert (series.status, first.series_side, first.status) == ("failed", "A", "failed")
    assert (
        series.error.startswith(f"Repetition A1 (run #{first.pk}) failed: ")
        and "does not exist" in series.error
    )
    assert series.task_run.status == "failed" and series.task_run.error == series.error
    event = AuditEvent.objects.get(action="benchmark.series_run")
    assert event.outcome == "failure" and "A1" in event.detail["error"]
    page = client_for("viewer").get(f"/projects/shop/benchmarks/series/{series.pk}/", HTTP_HX_REQUEST="true")
    assert page.status_code == 286 and "does not exist" in page.content.decode()
    assert "not run" in page.content.decode() and "series-verdicts" not in page.content.decode()
    assert "A comparison needs at least 2 finished repetitions of A and 2 of B" in page.content.decode()


def test_cancelling_a_queued_series_ends_it_before_a_worker_takes_it(client_for, shop):
    client = client_for("engineer")
    repeat(client, seed(shop))
    series = BenchmarkSeries.objects.get()
    response = client.post(f"/projects/shop/benchmarks/series/{series.pk}/cancel/", follow=True)
    assert "The series was cancelled before it started" in response.content.decode()
    series = run_series_here(series)
    assert series.status == "cancelled" and series.started_at is None
    assert series.task_run.status == "succeeded" and series.task_run.progress == "Cancelled before it started"
    assert not BenchmarkRun.objects.filter(series=series).exists()
    assert AuditEvent.objects.filter(action="benchmark.series_cancel", outcome="success").count() == 1
    again = client.post(f"/projects/shop/benchmarks/series/{series.pk}/cancel/", follow=True)
    assert "The series had already ended" in again.content.decode()
    assert AuditEvent.objects.filter(action="benchmark.series_cancel").count() == 1


def test_a_repetition_cancelled_from_its_own_page_ends_the_series(
    client_for, shop, cancel_after_first_second
):
    repeat(client_for("engineer"), seed(shop, duration_seconds=30))
    series = BenchmarkSeries.objects.get()
    series = run_series_here(series)
    assert series.status == "cancelled" and series.error == ""
    first = BenchmarkRun.objects.get(series=series)  # no later repetition started
    assert (first.series_side, first.series_number, first.status) == ("A", 1, "cancelled")
    assert first.result["measured_seconds"] < 10


def test_a_series_whose_worker_died_ends_failed_and_frees_its_target(client_for, shop, settings):
    repeat(client_for("engineer"), seed(shop))
    series = BenchmarkSeries.objects.get()
    stale = timezone.now() - timedelta(seconds=settings.TASK_STALE_AFTER_SECONDS + 60)
    TaskRun.objects.filter(pk=series.task_run_id).update(status="running", heartbeat_at=stale)
    BenchmarkSeries.objects.filter(pk=series.pk).update(status="running")
    created = make_run(shop, status="queued", target_key="", series=series, series_side="A", series_number=1)
    assert lifecycle.reconcile_stale() >= 1
    series.refresh_from_db()
    created.refresh_from_db()
    assert series.status == "failed" and "stopped reporting progress" in series.error
    assert created.status == "cancelled"
    response = client_for("engineer").post("/projects/shop/benchmarks/new/", {"workload": "select-only",
        "clients": "1", "duration_seconds": "1", "connection": "direct", "protocol": "prepared", "scale": "1"})  # fmt: skip
    assert response.status_code == 302  # the target is free again


# --- the comparison ------------------------------------------------------------------------


def test_a_threefold_rate_over_repetitions_is_significantly_better_and_each_value_is_listed(
    client_for, shop, paced
):
    series = make_series(shop, paced[50], paced[150])
    page = client_for("viewer").get(f"/projects/shop/benchmarks/series/{series.pk}/").content.decode()
    assert verdicts(page)[0] == "better"
    change = float(re.search(r'data-change="tps">([-+0-9.]+) %', page).group(1))
    a_tps, b_tps = (mean(r["tps"] for r in paced[rate]) for rate in (50, 150))
    # The change of the means the runs really reached (a loaded machine may fall short of 150 a second).
    assert change == pytest.approx((b_tps - a_tps) / a_tps * 100, abs=0.1) and change > 50
    # Formatted as the page does (Django's floatformat rounds half up, f-strings half to even).
    assert floatformat(a_tps, 3) in page and floatformat(b_tps, 3) in page
    for result in (*paced[50], *paced[150]):
        assert floatformat(result["tps"], 1) in page and floatformat(result["latency"]["p99_ms"], 3) in page
    for label in ("tps", "p50 latency (ms)", "p99 latency (ms)", "95 % interval"):
        assert label in page
    assert "Over 2 finished repetitions of A and 2 of B" in page and "at least 5.0 %" in page
    assert "hx-trigger" not in page  # a finished series does not poll


def test_the_same_runs_on_both_sides_show_no_significant_change(client_for, shop, paced):
    series = make_series(shop, paced[50], list(reversed(paced[50])))
    page = client_for("viewer").get(f"/projects/shop/benchmarks/series/{series.pk}/").content.decode()
    assert verdicts(page) == ["no significant change"] * 3 and "+0.0 %" in page


def test_the_threshold_setting_decides_what_counts_as_significant(client_for, shop, paced, settings):
    settings.BENCHMARK_SIGNIFICANCE_THRESHOLD = 5.0
    series = make_series(shop, paced[50], paced[150])
    page = client_for("viewer").get(f"/projects/shop/benchmarks/series/{series.pk}/").content.decode()
    assert verdicts(page)[0] == "no significant change" and "at least 500.0 %" in page


def test_hostile_texts_on_the_series_page_are_escaped(client_for, team, shop_database, paced):
    hostile = "<script>alert('x')</script> \"q\" -- ünï"
    project = Project.objects.create(
        team=team, name=hostile, slug="shop", pooled_url=pg.url_for(shop_database)
    )
    series = make_series(project, paced[50], paced[150], error=hostile)
    BenchmarkSeries.objects.filter(pk=series.pk).update(differs_in=hostile)
    for url in (f"/projects/shop/benchmarks/series/{series.pk}/", "/projects/shop/benchmarks/"):
        page = client_for("viewer").get(url).content.decode()
        assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)" in page, url


# --- Neon: every repetition on its own temporary branch ------------------------------------


def test_a_series_against_the_parent_branch_runs_each_repetition_on_a_temporary_branch(
    client_for, neon_project, neon_standin, measured_results
):
    make_branch(neon_standin, "dev")
    sync_project(neon_project)
    dev = NeonBranch.objects.get(project=neon_project, name="dev")
    run = make_run(neon_project, measured_results["one"], branch_id=dev.branch_id, branch_name="dev",
                   target_key=dev.branch_id, duration_seconds=1, connection="pooled")  # fmt: skip
    page = client_for("engineer").get(f"/projects/pagila-neon/benchmarks/{run.pk}/").content.decode()
    assert '<option value="parent-branch">the parent branch</option>' in page
    main = default_endpoint(neon_project)
    neon_standin.standin.connection_attempts.clear()
    response = repeat(client_for("engineer"), run, slug="pagila-neon", kind="parent-branch")
    assert response.status_code == 302, response
    series = run_series_here(BenchmarkSeries.objects.get())
    assert series.status == "finished", series.error
    assert series.differs_in == "branch dev → main"
    repetitions = list(BenchmarkRun.objects.filter(series=series).order_by("pk"))
    assert [(r.series_side, r.branch_name) for r in repetitions] == [("A", "dev"), ("B", "main")] * 2
    assert all(r.status == "finished" and r.result["transactions"] > 0 for r in repetitions)
    assert all(r.use_temporary_branch and r.temporary_branch_deleted for r in repetitions)
    assert len({r.temporary_branch_id for r in repetitions}) == 4
    assert branch_names(neon_standin) == ["dev", "main"]
    assert neon_standin.standin.attempts_on(main) == 0  # the chosen branches' own computes were not used
    shown = client_for("viewer").get(f"/projects/pagila-neon/benchmarks/series/{series.pk}/").content.decode()
    assert "series-verdicts" in shown


def test_an_engineer_cannot_repeat_a_confirmed_write_on_the_default_branch(client_for, neon_project):
    sync_project(neon_project)
    main = NeonBranch.objects.get(project=neon_project, is_default=True)
    run = make_run(neon_project, workload="tpcb-like", branch_id=main.branch_id, branch_name="main",
                   target_key=main.branch_id, use_temporary_branch=False,
                   confirmed_default_branch_write=True)  # fmt: skip
    before = counts()
    shown = repeat(client_for("engineer"), run, slug="pagila-neon", follow=True).content.decode()
    assert "Run A would write to the default branch itself" in shown and counts() == before
    assert repeat(client_for("admin"), run, slug="pagila-neon").status_code == 302
    assert BenchmarkSeries.objects.get().a_options["confirmed_default_branch_write"] is True
