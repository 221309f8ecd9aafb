"""Old schema snapshots are deleted by the hourly cleanup; the newest of each project and branch never."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from dashboard.models import SchemaRelationStructure, SchemaSnapshot
from dashboard.schema.tasks import cleanup_schema_snapshots

pytestmark = pytest.mark.django_db


def versions(project, branch_id=""):
    return list(
        SchemaSnapshot.objects.filter(project=project, branch_id=branch_id)
        .order_by("version")
        .values_list("version", flat=True)
    )


def test_cleanup_keeps_the_newest_versions_of_each_branch(
    project, target_sql, snapshot, settings, client_for
):
    settings.SCHEMA_SNAPSHOT_KEEP_VERSIONS = 2
    for i in range(4):
        target_sql(f"CREATE TABLE t_{i} (id int)")
        snapshot()
    assert versions(project) == [1, 2, 3, 4]
    assert SchemaRelationStructure.objects.count() == 4
    result = cleanup_schema_snapshots()
    assert versions(project) == [3, 4]
    assert result == {"snapshots": 2, "structures": 0}  # t_0 and t_1 are still in v3 and v4
    target_sql("DROP TABLE t_0", "DROP TABLE t_1")
    snapshot()
    settings.SCHEMA_SNAPSHOT_KEEP_VERSIONS = 1
    assert cleanup_schema_snapshots() == {"snapshots": 2, "structures": 2}
    assert versions(project) == [5]
    assert set(SchemaRelationStructure.objects.values_list("structure__name", flat=True)) == {"t_2", "t_3"}
    page = client_for("viewer").get("/projects/shop/schema/").content.decode()
    assert "t_2" in page and "t_3" in page


def test_cleanup_deletes_old_snapshots_but_never_the_newest(project, target_sql, snapshot):
    long_ago = timezone.now() - timedelta(days=settings.SCHEMA_SNAPSHOT_RETENTION_DAYS + 1)
    snapshot()
    target_sql("CREATE TABLE t (id int)")
    snapshot()
    SchemaSnapshot.objects.filter(project=project).update(taken_at=long_ago)
    assert cleanup_schema_snapshots()["snapshots"] == 1
    assert versions(project) == [2]  # old, but the newest: the pages still have a schema to show
    assert cleanup_schema_snapshots()["snapshots"] == 0


def test_each_branch_keeps_its_own_newest_snapshot(project, target_sql, snapshot, settings):
    settings.SCHEMA_SNAPSHOT_KEEP_VERSIONS = 1
    snapshot()
    target_sql("CREATE TABLE t (id int)")
    snapshot()
    SchemaSnapshot.objects.filter(project=project, version=1).update(branch_id="br-feature")
    assert cleanup_schema_snapshots()["snapshots"] == 0
    assert versions(project) == [2] and versions(project, "br-feature") == [1]
