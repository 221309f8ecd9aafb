"""Drift: a schema version no migration recorded in its interval explains is "changed outside any migration"."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from migrations_app.models import ApplyOutcome, ApplyRun, MigrationRequest, Revision
from tests.migrations_app.history_fixtures import create_tool_table, page, prisma, run_sql, snapshot
from tests.migrations_app.test_history_timeline import order_of, rows

pytestmark = pytest.mark.django_db

URL = "/projects/shop/migrations/"
OUTSIDE = "changed outside any migration"


def version_row(html: str, version: int) -> str:
    return rows(html)[order_of(html, f"<strong>v{version}</strong>")[0]]


def test_a_schema_changed_by_plain_sql_is_flagged_with_its_diff(client_for, project, target_db):
    create_tool_table(target_db, "prisma")
    prisma(target_db, "20240501_init", at=datetime(2024, 5, 1, tzinfo=UTC))
    snapshot(project)
    run_sql(target_db, "CREATE TABLE hotfix (id int PRIMARY KEY)")
    snapshot(project)
    html = page(client_for("viewer"), URL)
    v2 = version_row(html, 2)
    assert OUTSIDE in v2 and "+1 table" in v2
    assert 'href="/projects/shop/schema/diff/?from=1&amp;to=2"' in v2
    assert "1 schema change outside any migration" in html
    diff = page(client_for("viewer"), "/projects/shop/schema/diff/?from=1&to=2")
    assert "hotfix" in diff


def test_a_change_with_a_prisma_migration_finished_in_the_interval_is_explained(
    client_for, project, target_db
):
    create_tool_table(target_db, "prisma")
    snapshot(project)
    run_sql(target_db, "CREATE TABLE refunds (id int PRIMARY KEY)")
    prisma(target_db, "20240601_refunds")  # finished now: between the two snapshots
    snapshot(project)
    html = page(client_for("viewer"), URL)
    v2 = version_row(html, 2)
    assert OUTSIDE not in v2 and "explained by 1 migration" in v2
    assert "schema change outside any migration" not in html


def test_a_migration_recorded_outside_the_interval_explains_nothing(client_for, project, target_db):
    create_tool_table(target_db, "prisma")
    snapshot(project)
    run_sql(target_db, "CREATE TABLE late (id int)")
    prisma(target_db, "20200101_old", at=datetime(2020, 1, 1, tzinfo=UTC))  # long before the first snapshot
    snapshot(project)
    assert OUTSIDE in version_row(page(client_for("viewer"), URL), 2)


def test_a_golang_migrate_version_that_first_appears_explains_the_change(client_for, project, target_db):
    """golang-migrate keeps one row and no time: the read that first shows version 2 times it."""
    create_tool_table(target_db, "golang_migrate")
    run_sql(target_db, "INSERT INTO schema_migrations VALUES (1, false)")
    snapshot(project)
    run_sql(target_db, "CREATE TABLE widgets (id int)", "UPDATE schema_migrations SET version = 2")
    snapshot(project)
    html = page(client_for("viewer"), URL)
    assert OUTSIDE not in version_row(html, 2)
    two = rows(html)[order_of(html, "<code>2</code>")[0]]
    assert "first seen by the dashboard" in two
    one = rows(html)[order_of(html, "<code>1</code>")[0]]
    assert "no longer in the table" in one  # version 1 was replaced; the timeline keeps it


def test_an_unchanged_schema_adds_no_version_and_no_drift(client_for, project, target_db):
    snapshot(project)
    snapshot(project)
    html = page(client_for("viewer"), URL)
    assert len(rows(html)) == 1 and "first snapshot" in html and OUTSIDE not in html


def test_a_change_the_dashboard_applied_is_explained_and_on_the_timeline(
    client_for, project, target_db, users
):
    snapshot(project)
    run_sql(target_db, "CREATE TABLE coupons (id int PRIMARY KEY)")
    request = MigrationRequest.objects.create(project=project, title="Add <coupons>", state="applied")
    revision = Revision.objects.create(request=request, number=1, sql="CREATE TABLE coupons (id int PRIMARY KEY)",
                                       checksum="c" * 64)  # fmt: skip
    ApplyRun.objects.create(revision=revision, checksum="c" * 64, outcome=ApplyOutcome.APPLIED,
                            started_at=timezone.now(), finished_at=timezone.now())  # fmt: skip
    snapshot(project)
    html = page(client_for("viewer"), URL)
    assert OUTSIDE not in version_row(html, 2) and "explained by 1 migration" in version_row(html, 2)
    own = rows(html)[order_of(html, f"#{request.pk}")[0]]
    assert "<td>Dashboard</td>" in own and "Add &lt;coupons&gt; (revision 1)" in own
    assert f'href="/projects/shop/migrations/{request.pk}/"' in own
