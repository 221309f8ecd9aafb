"""A person's journey in real Chromium: start a run, watch its progress, see the charts, compare."""

import pytest
from playwright.sync_api import expect

from dashboard.models import BenchmarkRun, BenchmarkSeries
from tests.benchmarks.conftest import make_run

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def test_engineer_starts_a_benchmark_watches_it_and_compares_pooled_with_direct(
    login, live_server, users, project, celery_worker
):
    page = login("engineer")
    page.goto(f"{live_server.url}/projects/shop/")
    page.get_by_role("link", name="Benchmarks").click()
    expect(page.locator(".empty")).to_contain_text("No benchmark has run on this project yet")
    page.get_by_role("link", name="New benchmark").click()
    page.select_option("#id_workload", "select-only")
    page.fill("#id_clients", "2")
    page.fill("#id_duration_seconds", "4")
    page.select_option("#id_connection", "direct")
    page.get_by_role("button", name="Start benchmark").click()
    run = BenchmarkRun.objects.get()
    page.wait_for_url(f"{live_server.url}/projects/shop/benchmarks/{run.pk}/")
    # Live progress by htmx polling: seconds counted while it runs, then the results.
    expect(page.locator("#benchmark-phase")).to_contain_text(" of 4 s,", timeout=60_000)
    expect(page.locator("#benchmark-status")).to_contain_text("Finished", timeout=60_000)
    expect(page.locator("#benchmark-results")).to_contain_text("p99.9 ms")
    expect(page.locator("#benchmark-charts svg")).to_have_count(3)
    expect(page.locator("#benchmark-charts")).to_contain_text("Latency histogram")
    assert float(page.locator("#result-tps").inner_text().replace(",", "")) > 0

    # One click: the counterpart starts and the comparison page waits for it, showing its progress.
    page.get_by_role("button", name="Compare direct vs pooled").click()
    counterpart = BenchmarkRun.objects.exclude(pk=run.pk).get()
    page.wait_for_url(f"{live_server.url}/projects/shop/benchmarks/compare/?a={run.pk}&b={counterpart.pk}")
    assert counterpart.connection == "pooled" and counterpart.counterpart_of_id == run.pk
    expect(page.locator("#benchmark-compare")).to_contain_text("to finish", timeout=10_000)
    expect(page.locator("#compare-progress")).to_contain_text(f"#{counterpart.pk} (pooled)")
    expect(page.locator("#comparison-verdicts")).to_be_visible(timeout=60_000)
    for metric in ("tps", "p50 latency (ms)", "p99 latency (ms)"):
        expect(page.locator("#comparison-verdicts")).to_contain_text(metric)
    expect(page.locator("#comparison-charts svg")).to_have_count(3)
    expect(page.locator("#comparison-charts")).to_contain_text(f"#{counterpart.pk}")


def test_engineer_repeats_a_run_as_a_series_watches_it_and_reads_the_verdict(
    login, live_server, users, project, celery_worker, measured_results
):
    run = make_run(project, measured_results["one"], connection="direct", duration_seconds=1, target_key="")
    page = login("engineer")
    page.goto(f"{live_server.url}/projects/shop/benchmarks/{run.pk}/")
    page.get_by_label("Repetitions of each").fill("2")
    page.get_by_label("B differs in").select_option(label="pooled instead of direct")
    page.get_by_role("button", name="Repeat as a series").click()
    series = BenchmarkSeries.objects.get()
    page.wait_for_url(f"{live_server.url}/projects/shop/benchmarks/series/{series.pk}/")
    expect(page.locator("#series-differs")).to_contain_text("connection direct → pooled")
    # Live progress by htmx polling: the repetition running, then the verdict over all four.
    expect(page.locator("#series-phase")).to_contain_text("Repetition ", timeout=30_000)
    expect(page.locator("#series-status")).to_contain_text("Finished", timeout=90_000)
    expect(page.locator("#series-repetitions tbody tr")).to_have_count(4)
    expect(page.locator("#series-repetitions .badge")).to_have_text(["Finished"] * 4)
    for metric in ("tps", "p50 latency (ms)", "p99 latency (ms)"):
        expect(page.locator("#series-verdicts")).to_contain_text(metric)
    expect(page.locator("#series-comparison")).to_contain_text("Over 2 finished repetitions of A and 2 of B")
    page.locator('[data-repetition="B2"] a').click()
    expect(page.locator(".facts")).to_contain_text(f"Repetition B2 of series #{series.pk}")
    expect(page.locator(".facts")).to_contain_text("pooled, prepared protocol")


def test_a_viewer_sees_runs_but_no_way_to_start_one(login, live_server, users, project):
    page = login("viewer")
    page.goto(f"{live_server.url}/projects/shop/benchmarks/")
    expect(page.locator("h1")).to_contain_text("Benchmarks")
    expect(page.get_by_role("link", name="New benchmark")).to_have_count(0)
    assert page.goto(f"{live_server.url}/projects/shop/benchmarks/new/").status == 403
