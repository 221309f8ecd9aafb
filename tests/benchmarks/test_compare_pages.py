"""The compare page: both runs side by side, the change, the bootstrap interval and the verdict."""

import re

import pytest

from dashboard.benchmarks.engine.workloads import initialise
from dashboard.models import Project
from tests.benchmarks.conftest import make_run, real_result
from tests.support import pg

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def paced_results(django_db_blocker):
    """Two real runs held to 50 and 150 transactions a second (open loop), 3 s each."""
    name = pg.create_database("benchcmp")
    with pg.admin_connect(name) as conn:
        initialise(conn, scale=1)
    results = {rate: real_result(name, rate=rate, duration_seconds=3) for rate in (50, 150)}
    pg.drop_database(name)
    return results


@pytest.fixture
def shop(team):
    return Project.objects.create(team=team, name="Shop", slug="shop", pooled_url=pg.url_for("postgres"))


def verdicts(page: str) -> list[str]:
    table = page[page.index('id="comparison-verdicts"') :]
    return [part.split("</span>")[0].split(">")[-1] for part in table.split('<span class="badge')[1:4]]


def test_a_threefold_rate_is_a_significant_improvement_and_the_reverse_a_regression(
    client_for, shop, paced_results
):
    slow, fast = make_run(shop, paced_results[50]), make_run(shop, paced_results[150])
    page = (
        client_for("viewer")
        .get(f"/projects/shop/benchmarks/compare/?a={slow.pk}&b={fast.pk}")
        .content.decode()
    )
    assert verdicts(page)[0] == "better"
    change = float(re.search(r'data-change="tps">([-+0-9.]+) %', page).group(1))
    assert 150 < change < 250
    assert " to +" in page and "95 % interval" in page
    reverse = (
        client_for("viewer")
        .get(f"/projects/shop/benchmarks/compare/?a={fast.pk}&b={slow.pk}")
        .content.decode()
    )
    assert verdicts(reverse)[0] == "worse"
    # Both runs overlaid: two series in each chart.
    assert reverse.count("<svg") == 3 and reverse.count("<polyline") == 4 and f"#{slow.pk}" in reverse


def test_a_run_against_itself_shows_no_significant_change(client_for, shop, measured_results):
    run = make_run(shop, measured_results["two"])
    page = (
        client_for("viewer").get(f"/projects/shop/benchmarks/compare/?a={run.pk}&b={run.pk}").content.decode()
    )
    assert verdicts(page) == ["no significant change"] * 3 and "+0.0 %" in page


def test_the_threshold_setting_decides_what_counts_as_significant(client_for, shop, paced_results, settings):
    settings.BENCHMARK_SIGNIFICANCE_THRESHOLD = 5.0  # 500 %: a threefold change is not enough
    slow, fast = make_run(shop, paced_results[50]), make_run(shop, paced_results[150])
    page = (
        client_for("viewer")
        .get(f"/projects/shop/benchmarks/compare/?a={slow.pk}&b={fast.pk}")
        .content.decode()
    )
    assert verdicts(page)[0] == "no significant change" and "at least 500.0 %" in page


def test_the_page_waits_for_a_running_counterpart_and_polls(client_for, shop, measured_results):
    done, running = make_run(shop, measured_results["one"]), make_run(shop, status="running")
    url = f"/projects/shop/benchmarks/compare/?a={done.pk}&b={running.pk}"
    page = client_for("viewer").get(url).content.decode()
    assert "to finish; the comparison appears here" in page and 'hx-trigger="every 2s"' in page
    running.status, running.result = "finished", measured_results["two"]
    running.save()
    partial = client_for("viewer").get(url, HTTP_HX_REQUEST="true")
    assert partial.status_code == 286 and "comparison-verdicts" in partial.content.decode()


def test_cold_start_runs_are_not_compared_and_bad_ids_are_not_found(client_for, shop, measured_results):
    run = make_run(shop, measured_results["one"])
    cold = make_run(shop, {"samples": []}, workload="cold-start")
    page = (
        client_for("viewer")
        .get(f"/projects/shop/benchmarks/compare/?a={run.pk}&b={cold.pk}")
        .content.decode()
    )
    assert "cold-start runs are not compared" in page
    assert client_for("viewer").get("/projects/shop/benchmarks/compare/?a=1x&b=2").status_code == 404
    assert (
        client_for("viewer").get(f"/projects/shop/benchmarks/compare/?a={run.pk}&b=999999").status_code == 404
    )
