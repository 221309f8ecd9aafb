"""Failed or dirty migrations of other tools are health findings: overview tiles, JSON health API, /metrics."""

import io

import pytest
from django.core.management import call_command

from tests.migrations_app.history_fixtures import create_tool_table, page, prisma, run_sql, snapshot

pytestmark = pytest.mark.django_db

NAME = "20240402_late_fee_not_null"


@pytest.fixture
def api_token(users, team):
    out = io.StringIO()
    call_command("create_api_token", "--team", "acme", "--user", "admin", "--name", "alerts", stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def failed_prisma(project, target_db):
    create_tool_table(target_db, "prisma")
    prisma(target_db, "20240401_init")
    prisma(target_db, NAME, failed=True, logs='ERROR: column "late_fee" contains null values')
    snapshot(project)
    return target_db


def test_a_failed_prisma_migration_is_a_critical_tile_on_the_overview(client_for, failed_prisma):
    html = page(client_for("viewer"), "/projects/shop/")
    tile = html.split('<a class="tile critical" href="/projects/shop/migrations/"', 1)[1].split("</a>", 1)[0]
    assert "Migrations of other tools" in tile and "critical" in tile and "1 failed or dirty" in tile
    assert f"Prisma migration &#x27;{NAME}&#x27; in public._prisma_migrations is neither finished" in tile


def test_the_finding_is_in_the_json_health_api(client, failed_prisma, api_token):
    body = client.get("/api/v1/projects/shop/health", HTTP_AUTHORIZATION=f"Bearer {api_token}").json()
    [check] = [c for c in body["checks"] if c["id"] == "migration_history"]
    assert check["status"] == "critical" and body["status"] == "critical" and check["metric"] == 1
    [item] = check["items"]
    assert (item["id"], item["key"], item["tool"]) == ("migration_history.prisma.failed", NAME, "prisma")


def test_the_finding_is_in_metrics(client, failed_prisma, api_token):
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {api_token}").content.decode()
    assert 'neon_ops_health_status{project="shop",check="migration_history"} 2' in text.splitlines()
    assert 'neon_ops_health_value{project="shop",check="migration_history"} 1' in text.splitlines()


def test_a_resolved_failure_is_no_longer_a_finding(client, project, failed_prisma, api_token):
    run_sql(failed_prisma, "UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = %s",
            params=[NAME])  # fmt: skip
    snapshot(project)
    body = client.get("/api/v1/projects/shop/health", HTTP_AUTHORIZATION=f"Bearer {api_token}").json()
    [check] = [c for c in body["checks"] if c["id"] == "migration_history"]
    assert (check["status"], check["items"], check["value"]) == ("ok", [], "ok · 1 history table")


def test_dirty_golang_migrate_is_a_finding_and_no_history_table_is_no_check(
    client, project, target_db, api_token
):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token}"}
    snapshot(project)
    assert "migration_history" not in client.get("/metrics", **auth).content.decode()
    create_tool_table(target_db, "golang_migrate")
    run_sql(target_db, "INSERT INTO schema_migrations VALUES (7, true)")
    snapshot(project)
    [check] = [c for c in client.get("/api/v1/projects/shop/health", **auth).json()["checks"]]
    assert check["status"] == "critical" and "is dirty" in check["detail"]
