"""Stored reads are kept by count and age per branch; the newest one always stays."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import app as celery_app
from migrations_app.history.models import MigrationHistoryRead
from migrations_app.history.store import cleanup_reads
from tests.migrations_app.history_fixtures import create_tool_table, prisma, read_now

pytestmark = pytest.mark.django_db


@pytest.fixture
def four_states(project, target_db):
    """Four stored reads of the default branch, each with one more Prisma migration."""
    create_tool_table(target_db, "prisma")
    for number in range(4):
        prisma(target_db, f"2024050{number}_step")
        read_now(project)
    assert MigrationHistoryRead.objects.count() == 4
    return list(MigrationHistoryRead.objects.order_by("read_at").values_list("pk", flat=True))


def test_only_the_newest_reads_are_kept(settings, four_states):
    settings.MIGRATION_HISTORY_KEEP_READS = 2
    assert cleanup_reads() == 2
    assert (
        list(MigrationHistoryRead.objects.order_by("read_at").values_list("pk", flat=True)) == four_states[2:]
    )


def test_old_reads_go_but_the_newest_stays(settings, four_states):
    settings.MIGRATION_HISTORY_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=31)
    MigrationHistoryRead.objects.update(last_read_at=old)
    assert cleanup_reads() == 3
    assert list(MigrationHistoryRead.objects.values_list("pk", flat=True)) == [four_states[-1]]


def test_the_cleanup_runs_from_the_beat_schedule(settings, four_states):
    settings.MIGRATION_HISTORY_KEEP_READS = 1
    [entry] = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "migrations.cleanup_history_reads"
    ]
    celery_app.loader.import_default_modules()
    assert celery_app.tasks[entry["task"]].apply(throw=True).get() == 3
    assert MigrationHistoryRead.objects.count() == 1
