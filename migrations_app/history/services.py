"""The migrations page's history: one timeline, drift, branch comparison and Refresh.

The timeline merges, newest first: each tool's entries (from the newest stored read, plus the
entries earlier reads saw first, which keeps e.g. golang-migrate's replaced versions), the
dashboard's own applied migrations, and the branch's schema snapshot versions with their diff
summary. A version whose change no migration recorded in its interval is flagged as drift.
Everything comes from stored data: a page never connects to the target.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.urls import reverse
from django.utils.http import urlencode

from dashboard.connections import open_target
from dashboard.introspection.diff import summarize
from dashboard.models import Project, SchemaSnapshot
from dashboard.neon.state import compute_is_idle, resolve_branch
from dashboard.schema.snapshots import diff_snapshots
from dashboard.targets.connect import TargetError
from migrations_app.history.models import MigrationHistoryRead, ReadSource, SchemaChangeSummary
from migrations_app.history.store import identity, read_target, store_read
from migrations_app.models import ApplyOutcome, ApplyRun
from migrations_app.readers import (
    APPLIED,
    LABELS,
    PARTIAL,
    BranchDifference,
    DriftCheck,
    HistoryEntry,
    HistoryRead,
    SnapshotVersion,
    check_drift,
    compare_branches,
)

SCHEMA = "schema"  # the ?tool= value of schema snapshot versions
DASHBOARD = "dashboard"  # the dashboard's own applied migrations
OWN_TIME = "the migration's own time, not when it was applied"
NO_TIME = "the tool records no time"
FIRST_SEEN = "first seen by the dashboard; the tool records no apply time"
IDLE = "The Neon compute is idle: the history was not read, so the compute stays suspended. Wake it first."
OLDEST = datetime.min.replace(tzinfo=UTC)


def dashboard_migrations(project: Project, branch_id: str = "") -> list[HistoryEntry]:
    """The dashboard's own applies on the branch (reviewed migrations' ApplyRun), newest first; one query.

    Applied and partly applied runs count: both changed the schema when they finished.
    """
    branch_ids = {branch_id}
    if not branch_id and project.is_neon:
        default = resolve_branch(project)
        if default is not None:
            branch_ids.add(default.branch_id)  # a request may name the default branch by its id
    runs = (
        ApplyRun.objects.filter(revision__request__project=project, revision__request__branch_id__in=branch_ids,
                                outcome__in=[ApplyOutcome.APPLIED, ApplyOutcome.PARTLY_APPLIED],
                                finished_at__isnull=False)
        .select_related("revision__request").order_by("-finished_at")
    )  # fmt: skip
    return [_own_entry(project, run) for run in runs]


def _own_entry(project: Project, run: ApplyRun) -> HistoryEntry:
    request = run.revision.request
    partial = run.outcome == ApplyOutcome.PARTLY_APPLIED
    return HistoryEntry(
        tool=DASHBOARD, schema="", table="", key=f"#{request.pk}",
        description=f"{request.title} (revision {run.revision.number})", applied_at=run.finished_at,
        success=not partial, state=PARTIAL if partial else APPLIED,
        details={"url": reverse("migration_detail", args=[project.slug, request.pk])},
    )  # fmt: skip


@dataclass
class BranchHistory:
    """What is stored for one branch: the newest read, the entries reads timed by first sight, and
    the entries that left the tables (both oldest read first)."""

    record: MigrationHistoryRead | None
    read: HistoryRead | None
    first_seen: list[HistoryEntry] = field(default_factory=list)
    gone: list[HistoryEntry] = field(default_factory=list)


def load_branch_history(project: Project, branch_id: str = "") -> BranchHistory:
    """Two queries whatever the number of reads: the newest read; every read's first-seen and gone entries."""
    reads = MigrationHistoryRead.objects.filter(project=project, branch_id=branch_id)
    record = reads.order_by("-read_at").first()
    if record is None:
        return BranchHistory(None, None)
    history = BranchHistory(record, HistoryRead.from_dict(record.data))
    for first_seen, gone in reads.order_by("read_at").values_list("first_seen", "gone"):
        history.first_seen += [HistoryEntry.from_dict(entry) for entry in first_seen]
        history.gone += [HistoryEntry.from_dict(entry) for entry in gone]
    return history


@dataclass
class Item:
    """One line of the timeline: a tool's (or the dashboard's) migration, or a schema version."""

    tool: str
    when: datetime | None
    time_note: str = ""  # says what `when` is when it is not the time the tool recorded applying it
    entry: HistoryEntry | None = None
    own_time: datetime | None = None  # the time a tool keeps that is not an apply time (drizzle)
    gone: bool = False  # seen by an earlier read, no longer in the table
    since: datetime | None = None  # first seen: the read before, which did not show it yet
    gone_at: datetime | None = None  # the first read that no longer showed it
    snapshot: dict | None = None  # id, version, taken_at, first_taken_at, source
    previous: dict | None = None
    summary: str = ""
    drift: DriftCheck | None = None
    diff_url: str = ""

    @property
    def label(self) -> str:
        if self.tool == SCHEMA:
            return "Schema"
        if self.tool == DASHBOARD:
            return "Dashboard"
        return LABELS.get(self.tool, self.tool)

    @property
    def drifted(self) -> bool:
        return self.drift is not None and not self.drift.explained


def _time(entry: HistoryEntry, key: str) -> datetime | None:
    value = entry.details.get(key)
    return datetime.fromisoformat(value) if value else None


def _item(entry: HistoryEntry, firsts: dict, **extra) -> Item:
    """An entry's item: its apply time, else when the dashboard first saw it, else its own time, else none."""
    seen = firsts.get(identity(entry))
    own_time = entry.applied_at if not entry.time_is_apply_time else None
    if entry.has_apply_time:
        return Item(entry.tool, entry.applied_at, entry=entry, **extra)
    if seen is not None:
        since = _time(seen, "previous_read_at")
        return Item(entry.tool, seen.applied_at, FIRST_SEEN, entry, own_time, since=since, **extra)
    if own_time is not None:
        return Item(entry.tool, own_time, OWN_TIME, entry, own_time, **extra)
    return Item(entry.tool, None, NO_TIME, entry, **extra)


def entry_items(history: BranchHistory, own: list[HistoryEntry]) -> list[Item]:
    """Timeline items of tool entries: apply times as recorded, other times labelled for what they are.

    Entries no longer in a tool's table (a replaced golang-migrate version, an earlier Alembic
    head, a deleted row) stay on the timeline, marked so.
    """
    firsts: dict[tuple, HistoryEntry] = {}
    for entry in history.first_seen:  # oldest read first: keep the first sight
        firsts.setdefault(identity(entry), entry)
    current = history.read.entries() if history.read else []
    present = {identity(entry) for entry in current}
    left = {identity(entry): entry for entry in history.gone if identity(entry) not in present}  # latest wins
    items = [Item(DASHBOARD, entry.applied_at, entry=entry) for entry in own]
    items += [_item(entry, firsts) for entry in current]
    items += [_item(entry, firsts, gone=True, gone_at=_time(entry, "gone_at")) for entry in left.values()]
    return items


def drift_entries(history: BranchHistory, own: list[HistoryEntry]) -> list[HistoryEntry]:
    """Every migration with a time it was applied by: recorded apply times (also of entries that have
    left the tables since), and times of first sight."""
    current = history.read.entries() if history.read else []
    recorded = [entry for entry in (*current, *history.gone) if entry.has_apply_time]
    return [*own, *recorded, *history.first_seen]


SNAPSHOT_FIELDS = ("id", "version", "taken_at", "first_taken_at", "source")


def snapshot_items(project: Project, branch_id: str, entries: list[HistoryEntry]) -> list[Item]:
    """One item per schema version of the branch, with its drift check (the first has nothing before it).

    A version's interval runs from the last time the previous version was seen (its taken_at,
    moved by every unchanged capture) to the first time this one was (first_taken_at).
    """
    versions = list(
        SchemaSnapshot.objects.filter(project=project, branch_id=branch_id)
        .order_by("version")
        .values(*SNAPSHOT_FIELDS)
    )
    stored = dict(
        SchemaChangeSummary.objects.filter(
            snapshot__project=project, snapshot__branch_id=branch_id
        ).values_list("snapshot_id", "changed")
    )
    timed = sorted((entry for entry in entries if entry.has_apply_time), key=lambda entry: entry.applied_at)
    items, previous = [], None
    for version in versions:
        item = Item(SCHEMA, version["first_taken_at"], snapshot=version, previous=previous)
        if previous is not None:
            changed = stored.get(version["id"], True)
            pair = [SnapshotVersion(previous["id"], previous["taken_at"]),
                    SnapshotVersion(version["id"], version["first_taken_at"], changed)]  # fmt: skip
            checks = check_drift(pair, timed)
            item.drift = checks[0] if checks and changed else None
            query = urlencode({"from": previous["version"], "to": version["version"]})
            item.diff_url = reverse("schema_diff", args=[project.slug]) + "?" + query
        items.append(item)
        previous = version
    return items


def newest_first(items: list[Item]) -> list[Item]:
    """Newest first; items without any time (Alembic's head, Rails versions never seen arriving) last."""
    return sorted(items, key=lambda item: (item.when is not None, item.when or OLDEST), reverse=True)


def timeline(project: Project, branch_id: str = "") -> tuple[list[Item], BranchHistory]:
    history = load_branch_history(project, branch_id)
    own = dashboard_migrations(project, branch_id)
    items = entry_items(history, own) + snapshot_items(project, branch_id, drift_entries(history, own))
    return newest_first(items), history


def summarize_versions(items: list[Item]) -> None:
    """Fill the diff summary of the schema versions among `items` (one query; each missing one is
    computed once from the stored snapshots and kept)."""
    wanted = [item for item in items if item.snapshot is not None and item.previous is not None]
    known = dict(
        SchemaChangeSummary.objects.filter(
            snapshot_id__in=[item.snapshot["id"] for item in wanted]
        ).values_list("snapshot_id", "summary")
    )
    missing = [item for item in wanted if item.snapshot["id"] not in known]
    new_rows = [_summary_row(item) for item in missing]
    SchemaChangeSummary.objects.bulk_create(new_rows, ignore_conflicts=True)
    known.update((row.snapshot_id, row.summary) for row in new_rows)
    for row in new_rows:
        if not row.changed:  # a version no diff shows is no drift
            next(item for item in missing if item.snapshot["id"] == row.snapshot_id).drift = None
    for item in wanted:
        item.summary = known[item.snapshot["id"]]


def _summary_row(item: Item) -> SchemaChangeSummary:
    old, new = (
        SchemaSnapshot.objects.get(pk=item.previous["id"]),
        SchemaSnapshot.objects.get(pk=item.snapshot["id"]),
    )
    diff = diff_snapshots(old, new)
    return SchemaChangeSummary(
        snapshot=new, previous=old, summary=summarize(diff)[:500], changed=not diff.is_empty
    )


def tools_in(items: list[Item]) -> list[str]:
    """The ?tool= choices this timeline has, in the order of the tools' list."""
    present = {item.tool for item in items}
    return [tool for tool in (DASHBOARD, *LABELS, SCHEMA) if tool in present]


def compare(project: Project, branch_id: str, other_id: str) -> tuple[list[BranchDifference], bool]:
    """Differences between the newest reads of two branches, and whether both branches have one."""
    reads = {}
    for key in (branch_id, other_id):
        record = (
            MigrationHistoryRead.objects.filter(project=project, branch_id=key).order_by("-read_at").first()
        )
        reads[key] = HistoryRead.from_dict(record.data) if record else None
    if reads[branch_id] is None or reads[other_id] is None:
        return [], False
    return compare_branches(reads[branch_id], reads[other_id]), True


def refresh(project: Project, branch=None) -> tuple[MigrationHistoryRead | None, str]:
    """Read and store the history now for a person: (the stored read, "") or (None, why not).

    `branch`: a NeonBranch, a branch id or name, or None for the default branch. Never for a Neon
    compute that counts as idle (the page shows the idle notice and its wake button).
    """
    branch = resolve_branch(project, branch) if branch else None
    if compute_is_idle(project, branch):
        return None, IDLE
    try:
        with open_target(project, branch, interactive=True) as target:
            read = read_target(target)
    except TargetError as exc:
        return None, exc.message
    return store_read(project, read, branch, source=ReadSource.REFRESH), ""
