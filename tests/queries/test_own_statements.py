"""Only the dashboard's own statements count as its own: the exact marker at the start AND its role.

A user statement with `neon-ops-dashboard` in a comment (anywhere, or even at the start when another
role runs it) is user traffic: it is listed, counts for slow-statement health, and stops the backoff.
"""

import uuid
from datetime import timedelta

import psycopg
import pytest
from django.utils import timezone
from psycopg import sql

from dashboard.health.services import slow_statements
from dashboard.introspection.statements import is_own_statement
from dashboard.models import CollectorStatus, QueryText, Statement
from dashboard.queries.collector import collect_project
from tests.queries.conftest import run_workload
from tests.support import pg

pytestmark = pytest.mark.django_db

DISGUISED = "/* neon-ops-dashboard collector */ SELECT name FROM items WHERE id > %s"
INSIDE = "SELECT count(*) /* neon-ops-dashboard */ FROM items WHERE id < %s"


@pytest.fixture
def second_role(target_db, target_url):
    """A real second role (an application's) that may read the items table."""
    name, password = f"app_{uuid.uuid4().hex[:8]}", "app-password"
    with pg.admin_connect(target_db) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), password))
        conn.execute(sql.SQL("GRANT SELECT ON items TO {}").format(sql.Identifier(name)))
    yield pg.url_for(target_db, user=name, password=password)
    with pg.admin_connect(target_db) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_the_marker_alone_does_not_make_a_statement_the_dashboards():
    marker = "SELECT /* neon-ops-dashboard collector */ 1"
    assert is_own_statement(marker, userid=10, own_userid=10)
    # Texts stored before the marker moved after the first keyword (Postgres 14-17 keep it first).
    assert is_own_statement("/* neon-ops-dashboard collector */ SELECT 1", userid=10, own_userid=10)
    assert not is_own_statement(marker, userid=11, own_userid=10)  # another role
    assert not is_own_statement("SELECT 1 /* neon-ops-dashboard collector */", userid=10, own_userid=10)
    assert not is_own_statement("/* neon-ops-dashboard */ SELECT 1", userid=10, own_userid=10)  # not ours
    assert is_own_statement("SET LOCAL statement_timeout = 5000", userid=10, own_userid=10)
    assert not is_own_statement("SET LOCAL statement_timeout = 5000", userid=11, own_userid=10)


def test_statements_disguised_with_the_marker_are_user_traffic(
    client_for, project, target_url, second_role, settings
):
    settings.HEALTH_THRESHOLDS = {**settings.HEALTH_THRESHOLDS, "slow_mean_ms": 0, "slow_min_calls": 1}
    now = timezone.now() - timedelta(minutes=20)  # stored in the past, so the last hour shows it
    collect_project(project, now=now - timedelta(minutes=10))
    collect_project(project, now=now)  # nothing but the dashboard ran: quiet
    run_workload(second_role, {DISGUISED: 4})  # the marker at the start, but another role
    run_workload(target_url, {INSIDE: 3})  # the dashboard's role, but the marker is not at the start
    state = collect_project(project, now=now + timedelta(minutes=10))
    slow = {row["queryid"] for row in slow_statements(project, now=now + timedelta(minutes=11))}

    assert state.status == CollectorStatus.OK and state.quiet_streak == 0, state.message
    disguised = Statement.objects.get(project=project, query__text__contains="items WHERE id > $1")
    inside = Statement.objects.get(project=project, query__text__contains="items WHERE id < $1")
    assert not disguised.is_own and not inside.is_own
    assert disguised.role_name == second_role.split("//")[1].split(":")[0]
    body = client_for("viewer").get("/projects/shop/queries/?window=1h").content.decode()
    assert "SELECT name FROM items WHERE id &gt; $1" in body and "FROM items WHERE id &lt; $1" in body
    detail = client_for("viewer").get(f"/projects/shop/queries/{disguised.queryid}/")
    assert detail.status_code == 200
    assert {disguised.queryid, inside.queryid} <= slow
    # The dashboard's own statements stay hidden.
    own = Statement.objects.filter(
        project=project, query__text__contains="/* neon-ops-dashboard collector */"
    )
    assert own.exclude(queryid=disguised.queryid).exists()
    assert all(s.is_own for s in own.exclude(queryid=disguised.queryid))
    assert "SELECT oid::bigint, rolname FROM pg_roles" not in body


def test_the_dashboards_own_statements_alone_are_quiet(project, target_url):
    collect_project(project)
    state = collect_project(project, now=timezone.now() + timedelta(minutes=10))
    assert state.status == CollectorStatus.QUIET, state.message
    with psycopg.connect(target_url) as conn:
        own_role = conn.execute("SELECT oid FROM pg_roles WHERE rolname = current_user").fetchone()[0]
    own = Statement.objects.filter(project=project, is_own=True)
    assert own.exists() and set(own.values_list("userid", flat=True)) == {own_role}
    assert not QueryText.objects.filter(project=project, statements__is_own=False).exists()
