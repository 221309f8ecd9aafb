"""The collector and EXPLAIN on each supported major: real servers of Postgres 14, 15, 17 and 18."""

import psycopg
import pytest

from dashboard.introspection.statements import read_snapshot
from dashboard.models import CollectorStatus, Project, QueryText, StatsSample
from dashboard.queries.collector import collect_project
from dashboard.schema.snapshots import capture_snapshot
from dashboard.targets.marker import is_marked
from tests.queries.conftest import prepare_items, run_workload

pytestmark = pytest.mark.django_db

BY_ID = "SELECT name FROM items WHERE id = %s"


@pytest.fixture
def versioned_project(team, pg_any_server):
    name = pg_any_server.create_database("t")
    url = pg_any_server.url_for(name)
    prepare_items(url)
    yield Project.objects.create(team=team, name="Versioned", slug="shop", pooled_url=url), url
    pg_any_server.drop_database(name)


@pytest.mark.parametrize("pg_major", [14, 15, 17, 18])
def test_collector_reads_each_major(versioned_project, pg_major):
    project, url = versioned_project
    collect_project(project)
    run_workload(url, {BY_ID: 4})
    state = collect_project(project)
    assert state.status == CollectorStatus.OK and state.server_version_num // 10000 == pg_major
    sample = StatsSample.objects.get(statement__query__text__contains="items WHERE id = $1")
    assert (sample.calls, sample.rows) == (4, 4)
    with psycopg.connect(url) as conn:
        assert read_snapshot(conn.cursor()).has_stats_since == (pg_major >= 17)


@pytest.mark.parametrize("pg_major", [17])
def test_stats_since_catches_an_entry_reset_that_counters_cannot(versioned_project, pg_major):
    """On 17 an entry reset and re-filled beyond its old counts is still detected (stats_since moved)."""
    project, url = versioned_project
    run_workload(url, {BY_ID: 3})
    collect_project(project)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = "
            "current_database()), 0)"
        )
    run_workload(url, {BY_ID: 10})
    collect_project(project)
    sample = StatsSample.objects.get(statement__query__text__contains="items WHERE id = $1")
    assert (sample.calls, sample.series_start) == (10, True)


@pytest.mark.parametrize("pg_major", [17])
def test_generic_plan_on_17(client_for, versioned_project, pg_major):
    project, url = versioned_project
    collect_project(project)
    run_workload(url, {BY_ID: 2})
    collect_project(project)
    queryid = QueryText.objects.get(project=project, text__contains="items WHERE id = $1").queryid
    client = client_for("viewer")
    page = client.get(f"/projects/shop/queries/{queryid}/").content.decode()
    assert "Generic plan (EXPLAIN GENERIC_PLAN)" in page
    response = client.post(f"/projects/shop/queries/{queryid}/explain/", {"mode": "generic"})
    assert response.status_code == 200
    # A generic plan keeps the placeholder (the planner's choice of scan is its own).
    plan = response.content.decode().split('<pre class="plan-text">', 1)[1]
    assert "on items" in plan and "(id = $1)" in plan


@pytest.mark.parametrize("pg_major", [14, 15, 17, 18])
def test_the_dashboards_own_reads_leave_the_collector_quiet_on_each_major(versioned_project, pg_major):
    """Postgres 18 stores texts from the first keyword on, dropping a comment before it; the marker
    after the first keyword survives, so a compute that only the dashboard reads may still suspend."""
    project, url = versioned_project
    collect_project(project)  # baseline
    capture_snapshot(project)  # schema reads and the migration-history read, all marked
    state = collect_project(project)
    assert state.status == CollectorStatus.QUIET, state.message
    own = QueryText.objects.filter(text__contains="/* neon-ops-dashboard schema */")
    assert own.exists() and all(is_marked(q.text) for q in own)
