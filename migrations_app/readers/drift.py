"""Drift (schema changes no migration explains) and branch comparison, on stored reads.

Plain functions over dataclasses: nothing here talks to a database.

The drift rule: a schema change between two consecutive snapshot versions is explained
when some migration entry (the dashboard's own or any tool's) has an apply time in
(previous.taken_at, this.taken_at]; otherwise it "changed outside any migration".

Entries without an apply time of their own (drizzle's created_at is the migration file's
time; Alembic, Rails and golang-migrate keep no time) are timed by first_seen(): an entry
that a read shows and the read before it did not was applied between the two reads, so it
is given the later read's read_at as its apply time. For that to land in the right snapshot
interval, read the history immediately before the catalog read of each snapshot.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import pairwise

from .model import APPLIED, HistoryEntry, HistoryRead

OUTSIDE = "changed outside any migration"


@dataclass
class SnapshotVersion:
    """One stored schema version: when it was taken and whether (and how) it changed the schema."""

    id: int | str
    taken_at: datetime
    changed: bool = True  # differs from the previous version
    summary: str = ""  # e.g. "+2 tables, 1 index changed"


@dataclass
class DriftCheck:
    snapshot_id: int | str
    previous_id: int | str
    since: datetime
    until: datetime
    summary: str
    explained_by: list[HistoryEntry] = field(default_factory=list)

    @property
    def explained(self) -> bool:
        return bool(self.explained_by)

    @property
    def message(self) -> str:
        if not self.explained:
            return OUTSIDE
        count = len(self.explained_by)
        return f"explained by {count} migration{'s' if count != 1 else ''}"

    def to_dict(self) -> dict:
        return {
            "snapshot_id": self.snapshot_id,
            "previous_id": self.previous_id,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "summary": self.summary,
            "explained": self.explained,
            "message": self.message,
            "explained_by": [entry.to_dict() for entry in self.explained_by],
        }


def check_drift(snapshots: Sequence[SnapshotVersion], entries: Iterable[HistoryEntry]) -> list[DriftCheck]:
    """One check per snapshot version that changed the schema (the first version has nothing before it)."""
    timed = sorted((entry for entry in entries if entry.has_apply_time), key=lambda entry: entry.applied_at)
    checks = []
    for previous, current in pairwise(sorted(snapshots, key=lambda snapshot: snapshot.taken_at)):
        if not current.changed:
            continue
        inside = [entry for entry in timed if previous.taken_at < entry.applied_at <= current.taken_at]
        checks.append(DriftCheck(current.id, previous.id, previous.taken_at, current.taken_at, current.summary,
                                 inside))  # fmt: skip
    return checks


def drifted(checks: Iterable[DriftCheck]) -> list[DriftCheck]:
    return [check for check in checks if not check.explained]


def _identity(entry: HistoryEntry) -> tuple[str, str, str, str]:
    return entry.tool, entry.schema, entry.table, entry.key


def first_seen(reads: Sequence[HistoryRead]) -> list[HistoryEntry]:
    """Entries with no apply time, timed by the first read that shows them (see the module docstring).

    The first read has nothing before it, so what it shows gets no time. A table the previous
    read could not read gives no times either: its entries may not be new.
    """
    ordered = sorted((read for read in reads if read.read_at is not None), key=lambda read: read.read_at)
    timed = []
    for previous, current in pairwise(ordered):
        before = {_identity(entry) for entry in previous.entries()}
        blind = {(item.tool, item.schema, item.table) for item in previous.unreadable}
        for entry in current.entries():
            if entry.has_apply_time or _identity(entry) in before or _identity(entry)[:3] in blind:
                continue
            note = {"time_source": "first seen", "previous_read_at": previous.read_at.isoformat()}
            timed.append(replace(entry, applied_at=current.read_at, time_is_apply_time=True,
                                 details={**entry.details, **note}))  # fmt: skip
    return timed


@dataclass
class BranchDifference:
    """Applied migrations of one tool's table found on one branch and not on the other.

    `incomplete` is true when either read was cut at its row limit, so an old entry may
    only look missing.
    """

    tool: str
    schema: str
    table: str
    only_on_a: list[HistoryEntry]
    only_on_b: list[HistoryEntry]
    incomplete: bool = False

    def to_dict(self) -> dict:
        return {
            "tool": self.tool,
            "schema": self.schema,
            "table": self.table,
            "only_on_a": [entry.to_dict() for entry in self.only_on_a],
            "only_on_b": [entry.to_dict() for entry in self.only_on_b],
            "incomplete": self.incomplete,
        }


def compare_branches(read_a: HistoryRead, read_b: HistoryRead) -> list[BranchDifference]:
    """Per tool table, the applied keys on A missing on B and the other way round ("applied on main, missing on dev")."""
    tables_a = {(h.tool, h.schema, h.table): h for h in read_a.tools}
    tables_b = {(h.tool, h.schema, h.table): h for h in read_b.tools}
    differences = []
    for where in sorted(tables_a.keys() | tables_b.keys()):
        history_a, history_b = tables_a.get(where), tables_b.get(where)
        applied_a = _applied(history_a.entries if history_a else [])
        applied_b = _applied(history_b.entries if history_b else [])
        only_a = [entry for key, entry in applied_a.items() if key not in applied_b]
        only_b = [entry for key, entry in applied_b.items() if key not in applied_a]
        if only_a or only_b:
            incomplete = any(history is not None and history.truncated for history in (history_a, history_b))
            differences.append(BranchDifference(*where, only_a, only_b, incomplete))
    return differences


def _applied(entries: list[HistoryEntry]) -> dict[str, HistoryEntry]:
    """Key -> entry for migrations whose newest entry says applied (a failed attempt is not applied)."""
    newest: dict[str, HistoryEntry] = {}
    for entry in entries:  # newest first
        newest.setdefault(entry.key, entry)
    return {key: entry for key, entry in newest.items() if entry.state == APPLIED}
