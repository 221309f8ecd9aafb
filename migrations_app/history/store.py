"""Reading and storing the history tables of other migration tools, and loading stored reads.

Reads happen with each schema snapshot (dashboard/schema/snapshots.py calls read_before_snapshot
on the snapshot's own connection, just before the catalog read, so that entries timed by
readers.first_seen fall in the right interval between two snapshots) and on Refresh.
Nothing here imports the schema area, which imports this module.
"""

import hashlib
import json
import logging
from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from dashboard.models import Project
from dashboard.targets.connect import TargetError
from migrations_app.history.models import MigrationHistoryRead, ReadSource
from migrations_app.readers import HistoryEntry, HistoryRead, first_seen, problems, read_history

logger = logging.getLogger(__name__)


def branch_of(branch) -> tuple[str, str]:
    """(id, name) under which a branch's reads are stored; ("", "") for the default branch.

    A branch record is a NeonBranch (dashboard.neon.state); its default branch is the project's
    own connection, so its reads go with those of the project.
    """
    if branch is None or getattr(branch, "is_default", False):
        return "", ""
    return str(branch.branch_id), str(branch.name or branch.branch_id)


def read_target(target) -> HistoryRead:
    """Read the history tables on an open target (dashboard.connections.OpenTarget)."""
    return read_history(target.conn, target.cfg, limit=settings.MIGRATION_HISTORY_READ_LIMIT)


def read_before_snapshot(project: Project, target, branch=None) -> MigrationHistoryRead | None:
    """The schema snapshot's call: read and store, unless the read fails while the connection is fine.

    A history read that times out must not cost the snapshot; a lost connection still fails it.
    """
    try:
        read = read_target(target)
    except TargetError as exc:
        if target.conn.closed or target.conn.broken:
            raise
        logger.warning("Migration history not read for project %s: %s", project.pk, exc.message)
        return None
    return store_read(project, read, branch, source=ReadSource.SNAPSHOT)


def _content_hash(data: dict) -> str:
    content = {key: value for key, value in data.items() if key != "read_at"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def latest_record(project: Project, branch_id: str = "", *fields: str) -> MigrationHistoryRead | None:
    rows = MigrationHistoryRead.objects.filter(project=project, branch_id=branch_id)
    if fields:
        rows = rows.only(*fields)
    return rows.order_by("-read_at").first()


def identity(entry: HistoryEntry) -> tuple[str, str, str, str]:
    return entry.tool, entry.schema, entry.table, entry.key


def _gone(previous: HistoryRead, current: HistoryRead) -> list[dict]:
    """Entries of the previous state missing now, with the time of the read that no longer showed them.

    Not for tables this read could not see whole (unreadable, cut at the row limit, unusable).
    """
    present = {identity(entry) for entry in current.entries()}
    blind = {(item.tool, item.schema, item.table) for item in current.unreadable}
    blind |= {(h.tool, h.schema, h.table) for h in current.tools if h.truncated or h.problem}
    note = {"gone_at": current.read_at.isoformat()}
    return [
        {**entry.to_dict(), "details": {**entry.details, **note}}
        for entry in previous.entries()
        if identity(entry) not in present and identity(entry)[:3] not in blind
    ]


@transaction.atomic
def store_read(project: Project, read: HistoryRead, branch=None, *, source: str = ReadSource.SNAPSHOT
               ) -> MigrationHistoryRead:  # fmt: skip
    """Store a read as a new state, or confirm the newest state when the tables did not change."""
    branch_id, branch_name = branch_of(branch)
    data = read.to_dict()
    content_hash = _content_hash(data)
    # Lock the project row: two reads of one branch (a snapshot and a Refresh) store one after the other.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    latest = latest_record(project, branch_id)
    if latest is not None and read.read_at <= latest.last_read_at:
        return latest  # an older read finished after a newer one: it adds nothing
    if latest is not None and latest.content_hash == content_hash:
        MigrationHistoryRead.objects.filter(pk=latest.pk).update(last_read_at=read.read_at)
        latest.last_read_at = read.read_at
        return latest
    new_entries, gone = [], []
    if latest is not None:
        # The previous state was last seen at last_read_at: an entry new since then was applied after it.
        previous = replace(HistoryRead.from_dict(latest.data), read_at=latest.last_read_at)
        new_entries = [entry.to_dict() for entry in first_seen([previous, read])]
        gone = _gone(previous, read)
    return MigrationHistoryRead.objects.create(
        project=project, branch_id=branch_id, branch_name=branch_name, read_at=read.read_at,
        last_read_at=read.read_at, source=source, content_hash=content_hash, data=data,
        first_seen=new_entries, gone=gone, problems=[finding.to_dict() for finding in problems(read)],
        tool_tables=len(read.tools),
    )  # fmt: skip


def cleanup_reads(now=None) -> int:
    """Keep at most MIGRATION_HISTORY_KEEP_READS per project and branch, none older than the retention
    (by last_read_at), and always the newest of each branch so its timeline and health survive."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.MIGRATION_HISTORY_RETENTION_DAYS)
    ranked = MigrationHistoryRead.objects.annotate(
        rank=Window(RowNumber(), partition_by=[F("project_id"), F("branch_id")], order_by=F("read_at").desc())
    )
    doomed = ranked.filter(
        Q(rank__gt=settings.MIGRATION_HISTORY_KEEP_READS) | Q(rank__gt=1, last_read_at__lt=cutoff)
    )
    ids = list(doomed.values_list("pk", flat=True))
    deleted, _ = MigrationHistoryRead.objects.filter(pk__in=ids).delete()
    return deleted
