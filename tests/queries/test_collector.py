"""The statement collector against real pg_stat_statements: deltas, texts once, resets, restarts, backoff."""

from datetime import timedelta

import psycopg
import pytest
from django.db.models import Sum
from django.utils import timezone
from psycopg import sql

from dashboard.models import (
    CollectorState,
    CollectorStatus,
    DueReason,
    HealthSnapshot,
    Project,
    QueryText,
    Statement,
    StatsSample,
)
from dashboard.neon.sync import sync_project
from dashboard.queries.collector import cleanup, collect_project
from dashboard.queries.tasks import collect_statements
from tests.queries.conftest import run_workload
from tests.support import pg

pytestmark = pytest.mark.django_db

BY_ID = "SELECT name FROM items WHERE id = %s"
ODD_SCHEMA = 'ext\'s "<b>"'
COUNT = "SELECT count(*) FROM items WHERE id > %s"
NEON_BY_ID = "SELECT title FROM film WHERE film_id = %s"


def calls_for(project, fragment: str) -> int:
    """Total calls stored for statements whose text contains `fragment`."""
    total = StatsSample.objects.filter(statement__project=project, statement__query__text__contains=fragment)
    return total.aggregate(n=Sum("calls"))["n"] or 0


def test_first_snapshot_is_a_baseline_and_the_next_stores_what_ran(project, target_url):
    run_workload(target_url, {BY_ID: 3})
    state = collect_project(project)
    assert state.status == CollectorStatus.BASELINE
    assert StatsSample.objects.count() == 0

    run_workload(target_url, {BY_ID: 7, COUNT: 4})
    state = collect_project(project)
    assert state.status == CollectorStatus.OK
    assert calls_for(project, "FROM items WHERE id = $1") == 7
    assert calls_for(project, "count(*) FROM items WHERE id > $1") == 4
    sample = StatsSample.objects.filter(statement__query__text__contains="items WHERE id = $1").get()
    assert sample.total_exec_ms > 0 and sample.rows == 7 and not sample.series_start


def test_only_moved_statements_are_stored_and_each_text_once(project, target_url):
    collect_project(project)
    run_workload(target_url, {BY_ID: 2, COUNT: 2})
    collect_project(project)
    run_workload(target_url, {BY_ID: 5})
    collect_project(project, now=timezone.now() + timedelta(minutes=5))
    by_id = Statement.objects.get(project=project, query__text__contains="items WHERE id = $1")
    count = Statement.objects.get(project=project, query__text__contains="items WHERE id > $1")
    assert list(by_id.samples.values_list("calls", flat=True).order_by("taken_at")) == [2, 5]
    assert count.samples.count() == 1  # did not move in the last interval, so nothing stored
    assert QueryText.objects.filter(project=project, queryid=by_id.queryid).count() == 1


def test_collector_stores_only_the_project_database(project, target_url, target_db):
    other = pg.create_database("otherdb")
    try:
        collect_project(project)
        run_workload(pg.url_for(other), {"SELECT 42 + %s": 9})
        run_workload(target_url, {BY_ID: 1})
        collect_project(project)
        assert calls_for(project, "42 +") == 0
        assert calls_for(project, "items WHERE id = $1") == 1
    finally:
        pg.drop_database(other)


def test_collector_never_resets_pg_stat_statements(project, target_url):
    run_workload(target_url, {BY_ID: 3})
    collect_project(project)
    collect_project(project)
    with psycopg.connect(target_url) as conn:
        calls = conn.execute(
            "SELECT calls FROM pg_stat_statements WHERE query LIKE 'SELECT name FROM items WHERE id = $1' "
            "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()[0]
    assert calls == 3


def test_entry_reset_starts_new_series_instead_of_negative_delta(project, target_url):
    run_workload(target_url, {BY_ID: 10})
    collect_project(project)
    # Reset only this database's entries: pg_stat_statements_info.stats_reset does not change,
    # the collector notices the counters going down.
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = "
            "current_database()), 0)"
        )
    run_workload(target_url, {BY_ID: 3})
    state = collect_project(project)
    sample = StatsSample.objects.get(statement__query__text__contains="items WHERE id = $1")
    assert sample.calls == 3 and sample.series_start
    assert StatsSample.objects.filter(calls__lt=0).count() == 0
    assert "reset on their own" in state.message


def test_full_reset_is_detected_from_stats_reset(project, target_url):
    run_workload(target_url, {BY_ID: 10})
    collect_project(project)
    run_workload(target_url, {BY_ID: 20})
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
    run_workload(target_url, {BY_ID: 4})
    state = collect_project(project)
    # The 20 calls before the reset are lost to everyone; the 4 after it start a new series.
    sample = StatsSample.objects.get(statement__query__text__contains="items WHERE id = $1")
    assert (sample.calls, sample.series_start) == (4, True)
    assert state.series == 1 and "stats_reset changed" in state.last_reset_reason


@pytest.mark.parametrize("restart", ["restart_like_neon", "crash_a_backend"])
def test_restart_that_loses_statistics_starts_new_series(restartable_project, second_cluster, restart):
    url = second_cluster.url()
    run_workload(url, {BY_ID: 10})
    collect_project(restartable_project)
    run_workload(url, {BY_ID: 10})
    getattr(second_cluster, restart)()
    run_workload(url, {BY_ID: 2})
    state = collect_project(restartable_project)
    sample = StatsSample.objects.get(
        statement__project=restartable_project, statement__query__text__contains="items WHERE id = $1"
    )
    assert (sample.calls, sample.series_start) == (2, True)
    assert state.series == 1 and state.resets_detected == 1


def test_clean_restart_keeps_the_series_without_double_counting(restartable_project, second_cluster):
    url = second_cluster.url()
    run_workload(url, {COUNT: 5})
    collect_project(restartable_project)
    run_workload(url, {COUNT: 6})
    second_cluster.pg_ctl("restart", "-m", "fast")  # pg_stat_statements saves its counters on shutdown
    run_workload(url, {COUNT: 1})
    state = collect_project(restartable_project)
    sample = StatsSample.objects.get(
        statement__project=restartable_project, statement__query__text__contains="items WHERE id > $1"
    )
    assert (sample.calls, sample.series_start) == (7, False)
    assert state.status == CollectorStatus.OK


def quiet_delays(project, url, statement: str, steps: int = 4) -> tuple[list[float], CollectorState]:
    """Baseline, one busy snapshot, then `steps` snapshots ten minutes apart in which nothing else ran."""
    collect_project(project)
    run_workload(url, {statement: 1})
    now = timezone.now()
    state = collect_project(project, now=now)
    assert state.status == CollectorStatus.OK and state.next_due_at == now + timedelta(seconds=300)
    delays = []
    for _step in range(steps):
        now += timedelta(minutes=10)
        state = collect_project(project, now=now)
        assert state.status == CollectorStatus.QUIET, state.message
        delays.append((state.next_due_at - now).total_seconds())
    run_workload(url, {statement: 1})
    after = collect_project(project, now=now + timedelta(minutes=30))
    assert after.status == CollectorStatus.OK and after.quiet_streak == 0
    return delays, state


@pytest.fixture
def short_backoff(settings):
    settings.QUERIES_COLLECT_INTERVAL_SECONDS = 300
    settings.QUERIES_BACKOFF_MAX_SECONDS = 1200
    return settings


@pytest.fixture
def active_neon_project(neon_project, standin_db):
    """The stand-in project with pg_stat_statements and its compute synced as active."""
    with pg.admin_connect(standin_db) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
    sync_project(neon_project)
    return neon_project


def test_plain_postgres_with_a_quiet_streak_is_collected_at_the_normal_interval(
    project, target_url, short_backoff
):
    """A server that never suspends gains nothing from waiting: only the on-call engineer would lose."""
    delays, state = quiet_delays(project, target_url, BY_ID)
    assert delays == [300, 300, 300, 300]
    assert state.quiet_streak == 4 and state.due_reason == DueReason.INTERVAL
    assert "next snapshot in 300 s." in state.message


def test_neon_project_backs_off_when_only_its_own_statements_ran(
    active_neon_project, standin_db, short_backoff
):
    delays, state = quiet_delays(active_neon_project, pg.url_for(standin_db), NEON_BY_ID)
    assert delays == [600, 1200, 1200, 1200]
    assert state.due_reason == DueReason.BACKOFF and "so the compute may suspend" in state.message


def test_unreachable_target_is_recorded_not_raised(team):
    project = Project.objects.create(
        team=team, name="Gone", slug="gone", pooled_url=pg.url_for("no_such_database_here")
    )
    state = collect_project(project)
    assert state.status == CollectorStatus.ERROR
    assert "does not exist" in state.message


def test_missing_extension_is_explained(team):
    name = pg.create_database("noext", extensions=())
    try:
        project = Project.objects.create(team=team, name="NoExt", slug="noext", pooled_url=pg.url_for(name))
        state = collect_project(project)
        assert state.status == CollectorStatus.UNAVAILABLE
        assert "CREATE EXTENSION pg_stat_statements" in state.message
    finally:
        pg.drop_database(name)


def unavailable_delays(project, steps: int) -> tuple[list[float], CollectorState]:
    """Delays after the first try (through the task, as the beat runs it: the health snapshot follows
    on the same cadence) and `steps` more tries an hour apart, while pg_stat_statements is missing."""
    assert collect_statements(project.pk) == CollectorStatus.UNAVAILABLE
    state = CollectorState.objects.get(project=project)
    now, delays = state.last_attempt_at, [(state.next_due_at - state.last_attempt_at).total_seconds()]
    for _step in range(steps):
        now += timedelta(hours=1)
        state = collect_project(project, now=now)
        assert state.status == CollectorStatus.UNAVAILABLE, state.message
        delays.append((state.next_due_at - now).total_seconds())
    return delays, state


def test_plain_postgres_without_pg_stat_statements_is_tried_at_the_normal_interval(team, short_backoff):
    name = pg.create_database("noext_backoff", extensions=())
    try:
        project = Project.objects.create(team=team, name="NoExt", slug="noext", pooled_url=pg.url_for(name))
        delays, state = unavailable_delays(project, steps=3)
        assert collect_statements(project.pk) == "not due"
        assert HealthSnapshot.objects.filter(project=project).count() == 1
        assert delays == [300, 300, 300, 300] and state.due_reason == DueReason.INTERVAL
        assert "CREATE EXTENSION pg_stat_statements" in state.message and "Next try in 300 s" in state.message
        with psycopg.connect(pg.url_for(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
        state = collect_project(project, now=state.last_attempt_at + timedelta(hours=1))
        assert state.status == CollectorStatus.BASELINE and state.quiet_streak == 0
        assert (state.next_due_at - state.last_attempt_at).total_seconds() == 300
    finally:
        pg.drop_database(name)


def test_neon_project_backs_off_while_pg_stat_statements_is_unavailable(neon_project, short_backoff):
    sync_project(neon_project)  # the stand-in's base database has no pg_stat_statements
    delays, state = unavailable_delays(neon_project, steps=2)
    assert delays == [600, 1200, 1200] and state.due_reason == DueReason.BACKOFF
    assert "Next try in 1200 s" in state.message


def test_retention_cleanup_deletes_old_history(project, target_url, settings):
    settings.QUERIES_RETENTION_DAYS = 14
    collect_project(project)
    run_workload(target_url, {BY_ID: 1})
    old = timezone.now() - timedelta(days=20)
    collect_project(project, now=old)
    run_workload(target_url, {BY_ID: 2})
    collect_project(project)
    removed = cleanup()
    assert removed["samples"] >= 1
    assert list(
        StatsSample.objects.filter(
            statement__project=project, statement__query__text__contains="items WHERE id = $1"
        ).values_list("calls", flat=True)
    ) == [2]
    # A statement deleted by cleanup is re-created when it moves again.
    Statement.objects.filter(project=project).delete()
    run_workload(target_url, {BY_ID: 3})
    collect_project(project)
    assert calls_for(project, "items WHERE id = $1") == 3
    assert CollectorState.objects.get(project=project).status == CollectorStatus.OK


def test_extension_in_its_own_schema_is_found(team):
    """Providers often create extensions in a schema off the search path; the name may be odd too."""
    name = pg.create_database("extschema", extensions=())
    try:
        with psycopg.connect(pg.url_for(name), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(ODD_SCHEMA)))
            conn.execute(
                sql.SQL("CREATE EXTENSION pg_stat_statements SCHEMA {}").format(sql.Identifier(ODD_SCHEMA))
            )
            conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
        project = Project.objects.create(team=team, name="Ext", slug="ext", pooled_url=pg.url_for(name))
        collect_project(project)
        run_workload(pg.url_for(name), {BY_ID: 3})
        state = collect_project(project)
        assert state.status == CollectorStatus.OK, state.message
        assert calls_for(project, "items WHERE id = $1") == 3
    finally:
        pg.drop_database(name)
