"""Deleting old schema snapshots (SCHEMA_SNAPSHOT_KEEP_VERSIONS, SCHEMA_SNAPSHOT_RETENTION_DAYS).

A snapshot is deleted when it is older than the retention days or not among the newest kept
versions of its project and branch; the newest snapshot of each project and branch is always
kept, whatever its age, so every page still has a schema to show. Relation structures that no
remaining snapshot uses are deleted afterwards.
"""

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from dashboard.models import SchemaSnapshot
from dashboard.schema.snapshots import delete_unused_structures

BATCH = 100

EXPIRED_SNAPSHOTS_SQL = """
SELECT id FROM (
    SELECT id, taken_at,
           row_number() OVER (PARTITION BY project_id, branch_id ORDER BY version DESC) AS newest_first
    FROM dashboard_schemasnapshot
) s
WHERE newest_first > 1 AND (newest_first > %s OR taken_at < %s)
ORDER BY id
"""


def expired_snapshot_ids(now=None) -> list[int]:
    cutoff = (now or timezone.now()) - timedelta(days=settings.SCHEMA_SNAPSHOT_RETENTION_DAYS)
    with connection.cursor() as cur:
        cur.execute(EXPIRED_SNAPSHOTS_SQL, [settings.SCHEMA_SNAPSHOT_KEEP_VERSIONS, cutoff])
        return [pk for (pk,) in cur.fetchall()]


def delete_expired_snapshots(now=None) -> dict:
    """Delete expired snapshots in batches, then unused structures; returns how many of each."""
    ids = expired_snapshot_ids(now)
    for start in range(0, len(ids), BATCH):
        SchemaSnapshot.objects.filter(pk__in=ids[start : start + BATCH]).delete()
    return {"snapshots": len(ids), "structures": delete_unused_structures()}
