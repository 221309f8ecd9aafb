"""Every benchmarks URL for every kind of visitor: anonymous, other team, viewer, engineer, admin."""

import pytest

from dashboard.models import AuditEvent, BenchmarkRun, BenchmarkSeries, Project, TaskRun
from tests.benchmarks.conftest import make_run
from tests.support import pg

pytestmark = pytest.mark.django_db

START = {"workload": "select-only", "clients": "1", "duration_seconds": "1", "connection": "direct",
         "protocol": "prepared", "scale": "1"}  # fmt: skip
SERIES = {"a": "{run}", "kind": "pooled-vs-direct", "repetitions": "2"}
# (method, url, data, minimum role, status for a permitted user); {run} is a finished run's id,
# {series} a running series' id.
URLS = [
    ("get", "/projects/shop/benchmarks/", None, "viewer", 200),
    ("get", "/projects/shop/benchmarks/?page=2", None, "viewer", 200),
    ("get", "/projects/shop/benchmarks/new/", None, "engineer", 200),
    ("post", "/projects/shop/benchmarks/new/", START, "engineer", 302),
    ("get", "/projects/shop/benchmarks/{run}/", None, "viewer", 200),
    ("post", "/projects/shop/benchmarks/{run}/cancel/", {}, "engineer", 302),
    ("post", "/projects/shop/benchmarks/{run}/counterpart/", {"kind": "pooled-vs-direct"}, "engineer", 302),
    ("get", "/projects/shop/benchmarks/compare/", None, "viewer", 200),
    ("get", "/projects/shop/benchmarks/compare/?a={run}&b={run}", None, "viewer", 200),
    ("post", "/projects/shop/benchmarks/series/new/", SERIES, "engineer", 302),
    ("get", "/projects/shop/benchmarks/series/{series}/", None, "viewer", 200),
    ("post", "/projects/shop/benchmarks/series/{series}/cancel/", {}, "engineer", 302),
]
RANK = {"viewer": 1, "engineer": 2, "admin": 3}


@pytest.fixture
def finished_run(team, shop_database, measured_results):
    project = Project.objects.create(
        team=team, name="Shop", slug="shop", pooled_url=pg.url_for(shop_database)
    )
    return make_run(project, measured_results["one"], target_key="")


@pytest.fixture
def running_series(finished_run):
    """A running series on another target (so repeating the finished run is not refused as busy)."""
    return BenchmarkSeries.objects.create(project=finished_run.project, repetitions_each=2, differs_in="x",
                                          status="running", a_branch_id="elsewhere", b_branch_id="elsewhere")  # fmt: skip


def benchmark_state():
    series = list(BenchmarkSeries.objects.values_list("status", "cancel_requested"))
    return BenchmarkRun.objects.count(), TaskRun.objects.count(), series


def filled(text: str, run, series) -> str:
    return text.replace("{run}", str(run.pk)).replace("{series}", str(series.pk))


@pytest.mark.parametrize("method, url, data, minimum, ok", URLS)
@pytest.mark.parametrize("who", [None, "no_team", "other_team", "viewer", "engineer", "admin"])
def test_permission_matrix(client_for, finished_run, running_series, method, url, data, minimum, ok, who):
    url = filled(url, finished_run, running_series)
    if data is not None:
        data = {key: filled(value, finished_run, running_series) for key, value in data.items()}
    response = (
        getattr(client_for(who), method)(url, data)
        if data is not None
        else getattr(client_for(who), method)(url)
    )
    if who is None:
        expected = 302
    elif who in ("no_team", "other_team"):
        expected = 404
    elif RANK[who] < RANK[minimum]:
        expected = 403
    else:
        expected = ok
    assert response.status_code == expected, f"{method} {url} as {who}"
    if who is None:
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "url, data",
    [
        ("/projects/shop/benchmarks/new/", START),
        ("/projects/shop/benchmarks/{run}/cancel/", {}),
        ("/projects/shop/benchmarks/{run}/counterpart/", {"kind": "pooled-vs-direct"}),
        ("/projects/shop/benchmarks/series/new/", SERIES),
        ("/projects/shop/benchmarks/series/{series}/cancel/", {}),
    ],
)
def test_a_viewer_post_changes_nothing_but_is_audited_as_denied(
    client_for, finished_run, running_series, url, data
):
    before_state, before = benchmark_state(), AuditEvent.objects.count()
    data = {key: filled(value, finished_run, running_series) for key, value in data.items()}
    assert client_for("viewer").post(filled(url, finished_run, running_series), data).status_code == 403
    assert benchmark_state() == before_state
    event = AuditEvent.objects.latest("pk")
    assert AuditEvent.objects.count() == before + 1
    assert (event.outcome, event.actor.username) == ("denied", "viewer")
    assert event.action.startswith("benchmark.")


def test_another_teams_run_id_is_not_found_in_this_project(client_for, finished_run, other_team):
    elsewhere = Project.objects.create(
        team=other_team, name="Else", slug="else", pooled_url=finished_run.project.pooled_url
    )
    foreign = make_run(elsewhere)
    client = client_for("admin")
    assert client.get(f"/projects/shop/benchmarks/{foreign.pk}/").status_code == 404
    assert client.post(f"/projects/shop/benchmarks/{foreign.pk}/cancel/").status_code == 404
    assert (
        client.get(f"/projects/shop/benchmarks/compare/?a={finished_run.pk}&b={foreign.pk}").status_code
        == 404
    )
    series = BenchmarkSeries.objects.create(project=elsewhere, repetitions_each=2, differs_in="x")
    assert client.get(f"/projects/shop/benchmarks/series/{series.pk}/").status_code == 404
    assert client.post(f"/projects/shop/benchmarks/series/{series.pk}/cancel/").status_code == 404
    assert (
        client.post("/projects/shop/benchmarks/series/new/", {**SERIES, "a": foreign.pk}).status_code == 404
    )
    assert client.post("/projects/shop/benchmarks/series/new/",
                       {**SERIES, "a": finished_run.pk, "b": foreign.pk}).status_code == 404  # fmt: skip
    assert BenchmarkSeries.objects.filter(project=finished_run.project).count() == 0


@pytest.mark.parametrize("url", ["/projects/shop/benchmarks/", "/projects/shop/benchmarks/{run}/",
                                 "/projects/shop/benchmarks/compare/", "/projects/shop/benchmarks/series/{series}/"])  # fmt: skip
def test_pages_refuse_posts_and_actions_refuse_gets(client_for, finished_run, running_series, url):
    client = client_for("admin")
    assert client.post(filled(url, finished_run, running_series)).status_code == 405
    assert client.get(f"/projects/shop/benchmarks/{finished_run.pk}/cancel/").status_code == 405
    assert client.get("/projects/shop/benchmarks/series/new/").status_code == 405
    assert client.get(f"/projects/shop/benchmarks/series/{running_series.pk}/cancel/").status_code == 405
