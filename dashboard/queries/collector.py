"""The statement collector: snapshots pg_stat_statements and stores per-interval deltas.

It never calls pg_stat_statements_reset (other tools read the same counters),
stores only statements whose counters moved, stores each query text once, and
never wakes a suspended Neon compute. When nothing but its own statements ran
since the last snapshot it lengthens its interval (doubling, capped) so that a
Neon compute may suspend; a server that never suspends (a plain Postgres) is
collected at the normal interval whatever ran, because waiting would buy nothing.
"""

import logging
from datetime import datetime, timedelta

import pglast
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from dashboard.connections import open_target
from dashboard.introspection.activity import redact_literals
from dashboard.introspection.redaction import redact_secrets
from dashboard.introspection.statements import (
    StatementsSnapshot,
    StatementsUnavailable,
    is_own_statement,
    read_snapshot,
    read_texts,
)
from dashboard.models import (
    CollectorState,
    CollectorStatus,
    DueReason,
    Project,
    QueryText,
    Statement,
    StatsSample,
)
from dashboard.neon.state import compute_is_idle, compute_may_suspend
from dashboard.queries.deltas import DeltaResult, compute_deltas, next_baseline, pack_totals, unpack_totals
from dashboard.targets.connect import TargetError

log = logging.getLogger(__name__)

SAMPLE_COLUMNS = (
    "project_id",
    "statement_id",
    "interval_start",
    "taken_at",
    "series_start",
    "calls",
    "total_exec_ms",
    "total_plan_ms",
    "rows",
    "shared_blks_hit",
    "shared_blks_read",
)


def interval() -> timedelta:
    return timedelta(seconds=settings.QUERIES_COLLECT_INTERVAL_SECONDS)


def quiet_delay(streak: int) -> timedelta:
    """Doubling interval while nothing but the dashboard runs, capped so data still arrives."""
    seconds = settings.QUERIES_COLLECT_INTERVAL_SECONDS * (2 ** min(streak, 16))
    return timedelta(seconds=min(seconds, settings.QUERIES_BACKOFF_MAX_SECONDS))


def quiet_next(state: CollectorState, project: Project, now: datetime) -> tuple[datetime, str]:
    """When to look again after a snapshot in which nothing but the dashboard ran, and why.

    Only a compute that can suspend gains from a longer interval (polling keeps it awake).
    """
    state.quiet_streak += 1
    if compute_may_suspend(project):
        return now + quiet_delay(state.quiet_streak), DueReason.BACKOFF
    return now + interval(), DueReason.INTERVAL


def state_for(project: Project) -> CollectorState:
    state, _ = CollectorState.objects.get_or_create(project=project)
    return state


def claim_due(project_id: int, now: datetime) -> bool:
    """Take the project's collection slot with a conditional UPDATE, so a redelivered task does not run twice."""
    return _claim(project_id, now, Q(next_due_at__lte=now))


def claim_now(project_id: int, now: datetime) -> bool:
    """Take the slot whether or not a snapshot is due ("Collect now"); False while another one runs."""
    return _claim(project_id, now, Q())


def _claim(project_id: int, now: datetime, condition: Q) -> bool:
    """Lease the slot (so overlapping snapshots never compute deltas against the same baseline)."""
    CollectorState.objects.get_or_create(project_id=project_id, defaults={"next_due_at": now})
    lease = now + timedelta(seconds=settings.QUERIES_COLLECT_LEASE_SECONDS)
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    claimed = CollectorState.objects.filter(free, condition, project_id=project_id)
    return claimed.update(next_due_at=lease, leased_until=lease) == 1


def collect_project(project: Project, *, now: datetime | None = None) -> CollectorState:
    """Take one snapshot of the project's statements and store what moved."""
    now = now or timezone.now()
    state = state_for(project)
    state.last_attempt_at = now
    if compute_is_idle(project):
        return _finish(
            state,
            CollectorStatus.IDLE,
            "Neon reports the compute idle; not connecting, so it stays suspended.",
            now + interval(),
            DueReason.IDLE,
        )
    try:
        with open_target(project) as target, target.read_only() as cur:
            snap = read_snapshot(cur)
            previous_totals = unpack_totals(state.totals)
            result = compute_deltas(state.baseline, previous_totals, snap)
            statement_ids, own_ids = _statement_ids(project, state, previous_totals, snap, result, cur, now)
    except StatementsUnavailable as exc:
        # Nothing to collect until someone installs the extension. Where polling keeps a compute
        # awake, back off as when quiet, so it may suspend (the health snapshot that follows each
        # run backs off with it). A server that never suspends is tried at the normal interval:
        # one cheap connection buys fresh health checks and notices the extension soon after it
        # is installed, and a longer wait would save nothing.
        next_due, reason = quiet_next(state, project, now)
        message = f"{exc.message} Next try in {int((next_due - now).total_seconds())} s."
        return _finish(state, CollectorStatus.UNAVAILABLE, message, next_due, reason)
    except TargetError as exc:
        return _finish(state, CollectorStatus.ERROR, exc.message, now + interval())
    with transaction.atomic():
        _store_samples(project, state, result, statement_ids, now)
        _record_snapshot(project, state, snap, result, statement_ids, own_ids, now)
    return state


def _finish(
    state: CollectorState, status: str, message: str, next_due: datetime, reason: str = DueReason.INTERVAL
) -> CollectorState:
    state.status, state.message, state.next_due_at, state.due_reason = status, message, next_due, reason
    state.leased_until = None
    state.save()
    return state


def _statement_ids(project, state, previous_totals, snap: StatementsSnapshot, result: DeltaResult, cur, now):
    """Statement ids of all entries the baseline knows plus every moved entry (created when new),
    and which of the moved ones are the dashboard's own statements."""
    known = {key: row[0] for key, row in previous_totals.items() if row[0]}
    if state.baseline.get("dbid") != snap.dbid:
        known = {}
    moved_ids = {known[d.entry.key] for d in result.moved if d.entry.key in known}
    # One query: which moved statements still exist (retention cleanup may have removed some; they are
    # re-created below) and which are our own.
    alive = dict(Statement.objects.filter(id__in=moved_ids).values_list("id", "is_own"))
    own = {pk for pk, is_own in alive.items() if is_own}
    for key in [k for k, v in known.items() if v in moved_ids and v not in alive]:
        del known[key]
    missing = [d.entry for d in result.moved if d.entry.key not in known]
    if missing:
        created, created_own = _create_statements(project, snap, missing, cur, now)
        known.update(created)
        own |= created_own
    return known, own


def _create_statements(project, snap: StatementsSnapshot, entries, cur, now) -> tuple[dict, set]:
    queryids = sorted({e.queryid for e in entries})
    stored = set(
        QueryText.objects.filter(project=project, queryid__in=queryids).values_list("queryid", flat=True)
    )
    new_texts = read_texts(cur, snap, [q for q in queryids if q not in stored])
    QueryText.objects.bulk_create(
        [
            QueryText(project=project, queryid=row.queryid, first_seen_at=now, **stored_text(row.text))
            for row in new_texts
        ],
        ignore_conflicts=True,
    )
    texts = {
        queryid: (pk, text)
        for queryid, pk, text in QueryText.objects.filter(project=project, queryid__in=queryids).values_list(
            "queryid", "id", "text"
        )
    }
    Statement.objects.bulk_create(
        [
            Statement(
                project=project,
                query_id=texts[e.queryid][0],
                queryid=e.queryid,
                userid=e.userid,
                role_name=snap.roles.get(e.userid, str(e.userid)),
                dbid=snap.dbid,
                datname=snap.datname,
                toplevel=e.toplevel,
                # Own only when the dashboard's role ran its marked text (queryid ignores comments,
                # so the same text id can be the dashboard's for one role and user traffic for another).
                is_own=is_own_statement(texts[e.queryid][1], userid=e.userid, own_userid=snap.own_userid),
                first_seen_at=now,
            )
            for e in entries
            if e.queryid in texts
        ],
        ignore_conflicts=True,
    )
    rows = Statement.objects.filter(project=project, dbid=snap.dbid, queryid__in=queryids).values_list(
        "userid", "queryid", "toplevel", "id", "is_own"
    )
    return {(u, q, t): pk for u, q, t, pk, _ in rows}, {pk for *_, pk, is_own in rows if is_own}


def stored_text(text: str) -> dict:
    """What is kept of a text: secrets masked for everyone, and the literal-free version for viewers."""
    text = redact_secrets(text)
    viewer_text = redact_literals(text)
    return {
        "text": text,
        "viewer_text": viewer_text if viewer_text != text else "",
        "fingerprint": _fingerprint(text),
    }


def _fingerprint(text: str) -> str:
    try:
        return pglast.parser.fingerprint(text)
    except Exception:  # noqa: BLE001 - unparsable or truncated texts simply get no fingerprint
        return ""


def _store_samples(project, state, result: DeltaResult, statement_ids: dict, now) -> None:
    """COPY the moved entries' deltas: one round trip however many statements moved."""
    start = state.last_snapshot_at or now
    rows = [
        (project.pk, statement_ids[d.entry.key], start, now, d.series_start, *d.delta)
        for d in result.moved
        if d.entry.key in statement_ids
    ]
    if not rows:
        return
    table = StatsSample._meta.db_table
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({', '.join(SAMPLE_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _others_moved(result: DeltaResult, statement_ids: dict, own_ids: set) -> int:
    """How many moved entries are not the dashboard's own statements."""
    return sum(1 for d in result.moved if statement_ids.get(d.entry.key) not in own_ids)


def _record_snapshot(project, state, snap, result: DeltaResult, statement_ids, own_ids, now) -> None:
    state.baseline = next_baseline(snap)
    state.totals = pack_totals(snap, statement_ids)
    state.server_version_num = snap.server_version_num
    state.last_snapshot_at = now
    notes = []
    if result.global_reset_reason:
        state.series += 1
        state.resets_detected += 1
        state.last_reset_reason = result.global_reset_reason[:200]
        notes.append(f"New series: {result.global_reset_reason}.")
    if result.entry_resets:
        state.resets_detected += result.entry_resets
        notes.append(f"{result.entry_resets} statement(s) had been reset on their own; counted from zero.")
    if result.first_snapshot:
        state.quiet_streak = 0
        _finish(
            state,
            CollectorStatus.BASELINE,
            "First snapshot: baseline taken, deltas start with the next one.",
            now + interval(),
        )
        return
    others = _others_moved(result, statement_ids, own_ids)
    if others:
        state.quiet_streak = 0
        notes.insert(0, f"{others} statement(s) moved.")
        _finish(state, CollectorStatus.OK, " ".join(notes), now + interval())
        return
    next_due, reason = quiet_next(state, project, now)
    seconds = int((next_due - now).total_seconds())
    why = " (backing off so the compute may suspend)" if reason == DueReason.BACKOFF else ""
    notes.insert(0, f"Only the dashboard's own statements ran; next snapshot in {seconds} s{why}.")
    _finish(state, CollectorStatus.QUIET, " ".join(notes), next_due, reason)


def due_project_ids(now: datetime) -> list[int]:
    """Projects whose next snapshot is due (or that were never collected)."""
    never = Project.objects.filter(collector__isnull=True).values_list("id", flat=True)
    due = CollectorState.objects.filter(next_due_at__lte=now).values_list("project_id", flat=True)
    return sorted(set(never) | set(due))


def cleanup(now: datetime | None = None) -> dict:
    """Delete history older than the retention period, then statements and texts nothing refers to."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.QUERIES_RETENTION_DAYS)
    samples, _ = StatsSample.objects.filter(taken_at__lt=cutoff).delete()
    statements, _ = Statement.objects.filter(first_seen_at__lt=cutoff, samples__isnull=True).delete()
    texts, _ = QueryText.objects.filter(first_seen_at__lt=cutoff, statements__isnull=True).delete()
    return {"samples": samples, "statements": statements, "texts": texts}
