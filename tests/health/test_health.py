"""Health checks against a real database with real problems; tiles, details, JSON API and /metrics."""

import io
import threading
import uuid

import psycopg
import pytest
from django.core.management import CommandError, call_command

from dashboard.health.services import take_health_snapshot
from dashboard.models import ApiToken, AuditEvent, HealthSnapshot, Project
from dashboard.queries.collector import collect_project
from tests.conftest import wait_until
from tests.queries.conftest import run_workload
from tests.support import pg

pytestmark = pytest.mark.django_db


def by_id(snapshot: HealthSnapshot) -> dict:
    return {c["id"]: c for c in snapshot.checks}


def sleep_until_cancelled(conn) -> None:
    try:
        conn.execute("SELECT pg_sleep(3)")
    except psycopg.errors.QueryCanceled:
        pass  # the fixture cancels it when the test ends


@pytest.fixture
def troubled(target_url, settings):
    """A database with an almost exhausted sequence, an invalid index and an open idle transaction."""
    settings.HEALTH_THRESHOLDS = {
        **settings.HEALTH_THRESHOLDS,
        "idle_in_transaction_seconds": 0,
        "long_running_seconds": 0,
    }
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE order_no AS smallint")
        conn.execute("SELECT setval('order_no', 32000)")
        conn.execute("CREATE TABLE dupes (v int)")
        conn.execute("INSERT INTO dupes VALUES (1), (1)")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute('CREATE UNIQUE INDEX CONCURRENTLY "dupes_<b>v</b>" ON dupes (v)')
    idle = psycopg.connect(target_url)
    idle.execute("SELECT 1")  # a transaction is now open and idle
    sleeper = psycopg.connect(target_url, autocommit=True)
    sleeper_pid = sleeper.info.backend_pid
    thread = threading.Thread(target=sleep_until_cancelled, args=(sleeper,), daemon=True)
    thread.start()
    with psycopg.connect(target_url, autocommit=True) as watcher:
        wait_until(
            lambda: watcher.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND state = 'active'", (sleeper_pid,)
            ).fetchone()
        )
    yield
    sleeper.cancel()
    thread.join(5)
    idle.close()
    sleeper.close()


def test_health_snapshot_finds_real_problems(project, troubled):
    checks = by_id(take_health_snapshot(project))
    assert checks["sequences"]["status"] == "critical"
    assert checks["sequences"]["items"][0]["name"] == "public.order_no"
    assert checks["invalid_indexes"]["status"] == "critical"
    assert checks["invalid_indexes"]["items"] == [{"name": "public.dupes_<b>v</b>", "table": "dupes"}]
    assert (
        checks["idle_in_transaction"]["status"] == "warning" and checks["idle_in_transaction"]["value"] == "1"
    )
    assert checks["long_running"]["value"] == "1"
    assert checks["wraparound"]["status"] == "ok"
    assert checks["connections"]["status"] == "ok"
    assert checks["cache_hit"]["status"] in ("ok", "warning", "critical")


def test_inactive_replication_slot_is_critical(project, target_url):
    slot = f"test_slot_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute("SELECT pg_create_physical_replication_slot(%s, true)", (slot,))
        try:
            checks = by_id(take_health_snapshot(project))
        finally:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
    assert checks["inactive_slots"]["status"] == "critical"
    assert slot in [item["name"] for item in checks["inactive_slots"]["items"]]


def test_neon_file_cache_ratio_is_reported_when_the_view_exists(project, target_url):
    # A view with the columns of Neon's neon_stat_file_cache (from the neon extension) on a real database.
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute(
            "CREATE VIEW neon_stat_file_cache AS SELECT 80::bigint AS file_cache_hits, "
            "20::bigint AS file_cache_misses, 80.0::float8 AS file_cache_hit_ratio"
        )
    check = by_id(take_health_snapshot(project))["cache_hit"]
    assert "LFC 80.00%" in check["value"] and check["status"] == "critical"


def test_slow_statements_from_the_last_hour(project, target_url, settings):
    settings.HEALTH_THRESHOLDS = {**settings.HEALTH_THRESHOLDS, "slow_mean_ms": 5.0, "slow_min_calls": 5}
    collect_project(project)
    run_workload(target_url, {"SELECT pg_sleep(0.006 + %s * 0)": 5, "SELECT %s + 1": 50})
    collect_project(project)
    check = by_id(take_health_snapshot(project))["slow_statements"]
    assert check["value"] == "1" and check["status"] == "warning"
    assert check["items"][0]["calls"] == 5 and check["items"][0]["mean_ms"] >= 5


def test_overview_tiles_render_from_the_stored_snapshot(client_for, project, troubled):
    take_health_snapshot(project)
    # The page must not connect: break the URL, the tiles still show the stored checks.
    Project.objects.filter(pk=project.pk).update(pooled_url="postgresql://u:p@127.0.0.1:1/gone")
    body = client_for("viewer").get("/projects/shop/").content.decode()
    assert 'class="tile critical" href="/projects/shop/health/#sequences"' in body
    assert 'class="tile warning" href="/projects/shop/activity/"' in body
    assert "Checked" in body and "Sequences near their limit" in body


def test_health_page_lists_details_escaped(client_for, project, troubled):
    take_health_snapshot(project)
    body = client_for("viewer").get("/projects/shop/health/").content.decode()
    assert "public.order_no" in body
    assert "dupes_&lt;b&gt;v&lt;/b&gt;" in body and "<b>v</b>" not in body


def test_only_engineers_see_the_refresh_button(client_for, project):
    for who, shown in (("viewer", False), ("engineer", True), ("admin", True)):
        for url in ("/projects/shop/", "/projects/shop/health/"):
            body = client_for(who).get(url).content.decode()
            assert ('action="/projects/shop/health/refresh/"' in body) == shown, (who, url)


def test_viewer_refresh_is_refused_without_connecting(client_for, project):
    response = client_for("viewer").post("/projects/shop/health/refresh/", HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    assert not HealthSnapshot.objects.filter(project=project).exists()
    assert AuditEvent.objects.get(action="health.refresh").outcome == "denied"


def test_refresh_button_takes_a_new_snapshot_and_reports_errors(client_for, project):
    client = client_for("engineer")
    response = client.post("/projects/shop/health/refresh/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Wraparound" in response.content.decode().title()
    Project.objects.filter(pk=project.pk).update(pooled_url="postgresql://u:p@127.0.0.1:1/gone")
    body = client.post("/projects/shop/health/refresh/", HTTP_HX_REQUEST="true").content.decode()
    assert "Last check failed" in body and "Connection refused" in body
    assert "Transaction ID wraparound" in body  # the previous checks stay visible, with their time
    outcomes = list(AuditEvent.objects.filter(action="health.refresh").values_list("outcome", flat=True))
    assert sorted(outcomes) == ["failure", "success"]


@pytest.fixture
def api_token(users, team):
    out = io.StringIO()
    call_command("create_api_token", "--team", "acme", "--user", "admin", "--name", "alerts", stdout=out)
    return out.getvalue().strip()


def test_token_is_stored_only_as_a_hash(api_token):
    token = ApiToken.objects.get()
    assert api_token not in (token.token_hash, token.prefix) and len(token.token_hash) == 64


def test_only_team_admins_create_tokens(users, team):
    with pytest.raises(CommandError, match="must be an admin"):
        call_command("create_api_token", "--team", "acme", "--user", "engineer")
    with pytest.raises(CommandError, match="No team"):
        call_command("create_api_token", "--team", "nope", "--user", "admin")


def test_health_api_returns_the_checks_as_json(client, project, api_token, troubled):
    take_health_snapshot(project)
    response = client.get("/api/v1/projects/shop/health", HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "critical" and data["project"] == "shop"
    assert {c["id"] for c in data["checks"]} >= {
        "connections",
        "sequences",
        "slow_statements",
        "inactive_slots",
    }


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer wrong-token", "Basic abc"])
def test_health_api_needs_a_valid_token(client, project, api_token, header):
    kwargs = {"HTTP_AUTHORIZATION": header} if header else {}
    assert client.get("/api/v1/projects/shop/health", **kwargs).status_code == 401
    assert client.get("/metrics", **kwargs).status_code == 401


def test_health_api_hides_other_teams_projects(client, project, api_token, other_team):
    Project.objects.create(team=other_team, name="Theirs", slug="theirs", pooled_url=pg.url_for("x"))
    response = client.get("/api/v1/projects/theirs/health", HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert response.status_code == 404


def test_metrics_in_prometheus_format_for_the_team_projects(client, project, api_token, troubled, other_team):
    Project.objects.create(team=other_team, name="Theirs", slug="theirs", pooled_url=pg.url_for("x"))
    take_health_snapshot(project)
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {api_token}")
    text = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert 'neon_ops_health_status{project="shop",check="sequences"} 2' in text
    assert 'neon_ops_health_status{project="shop",check="wraparound"} 0' in text
    assert "# TYPE neon_ops_health_value gauge" in text
    assert "theirs" not in text
    assert (
        'neon_ops_statements_last_snapshot_timestamp_seconds{project="shop"}' not in text
    )  # never collected
    collect_project(project)
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {api_token}").content.decode()
    assert 'neon_ops_statements_last_snapshot_timestamp_seconds{project="shop"}' in text
