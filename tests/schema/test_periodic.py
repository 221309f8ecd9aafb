"""Periodic snapshots: queued for projects whose latest snapshot is old, never twice, never when fresh."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.models import Project, SchemaSnapshot, TaskRun
from dashboard.schema.tasks import SNAPSHOT_KIND, schedule_periodic_snapshots
from tests.support import pg

pytestmark = pytest.mark.django_db


def test_due_projects_get_one_periodic_capture(project, snapshot, team, settings):
    settings.SCHEMA_SNAPSHOT_INTERVAL_SECONDS = 600
    fresh = Project.objects.create(team=team, name="Fresh", slug="fresh", pooled_url=project.pooled_url)
    stale = Project.objects.create(team=team, name="Stale", slug="stale", pooled_url=project.pooled_url)
    snapshot()  # shop: snapshot just taken
    SchemaSnapshot.objects.create(project=fresh, version=1, structure_hash="x")
    old = SchemaSnapshot.objects.create(project=stale, version=1, structure_hash="x")
    SchemaSnapshot.objects.filter(pk=old.pk).update(taken_at=timezone.now() - timedelta(hours=2))
    never = Project.objects.create(team=team, name="Never", slug="never", pooled_url=pg.url_for("postgres"))

    assert schedule_periodic_snapshots() == 2
    queued = TaskRun.objects.filter(kind=SNAPSHOT_KIND)
    assert sorted(queued.values_list("project__slug", flat=True)) == ["never", "stale"]
    assert {r.params["source"] for r in queued} == {"periodic"} and all(r.created_by is None for r in queued)
    # A second beat while those are still queued adds nothing.
    assert schedule_periodic_snapshots() == 0
    assert TaskRun.objects.filter(kind=SNAPSHOT_KIND).count() == 2
    assert never.schema_snapshots.count() == 0
