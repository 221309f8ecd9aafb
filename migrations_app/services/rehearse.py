"""Rehearsing a revision with the same engine code path as the real apply, capture on.

Neon: a temporary branch of the target branch (Neon API), the apply on its direct URL,
the schema before/after, and the branch deleted again whatever happens.
Plain Postgres: the engine's rule decides whether a rolled-back transaction on the target
itself is safe (every statement transactional, every touched table small, sizes from
the schema snapshot); otherwise the rehearsal says why none ran.
"""

import uuid

import psycopg
from django.conf import settings
from django.utils import timezone

# Dashboard code used here (import paths of today; the layout issue moves them).
from dashboard.common import audit
from dashboard.models import Outcome, SchemaRelation, TaskRun
from dashboard.neon.client import NeonAPIError
from dashboard.neon.state import resolve_branch
from dashboard.neon.sync import client_for
from dashboard.schema.snapshots import latest_snapshot
from dashboard.targets.connect import TargetError
from dashboard.taskruns import lifecycle as taskruns
from migrations_app.engine import rehearse as engine_rehearse
from migrations_app.engine.apply import apply_migration
from migrations_app.engine.plan import build_plan
from migrations_app.engine.sqltext import own
from migrations_app.models import ProjectMigrationPolicy, Rehearsal, RehearsalStatus, RequestState
from migrations_app.services import target

NEON = "neon-branch"
TRANSACTION = "transaction"


def report_json(result) -> dict:
    return {
        "status": result.status,
        "message": result.message,
        "duration_ms": round(result.duration_ms, 1),
        "notes": list(result.notes),
        "statements": [
            {
                "statement": r.index,
                "number": r.index + 1,
                "line": r.line,
                "step": r.step,
                "duration_ms": round(r.duration_ms, 2),
                "rows": r.rows,
                "attempts": r.attempts,
                "locks": [
                    {"relation": lock.relation, "kind": lock.kind, "mode": lock.mode}
                    for lock in r.locks or ()
                ],
                "rewrites": list(r.rewrites or ()),
                "note": r.note,
            }
            for r in result.statements
        ],
    }


def _finish(rehearsal: Rehearsal, status: str, *, reason: str = "", report=None, diff=None) -> None:
    rehearsal.status, rehearsal.reason = status, reason
    rehearsal.report = report or {}
    rehearsal.diff = diff or []
    rehearsal.finished_at = timezone.now()
    rehearsal.save()
    req = rehearsal.revision.request
    current = req.revisions.order_by("-number").first()
    if current.pk == rehearsal.revision_id and req.state == RequestState.REHEARSING:
        req.state = RequestState.AWAITING_APPROVAL
        req.updated_at = timezone.now()
        req.save(update_fields=["state", "updated_at"])


def run_rehearsal(task_run: TaskRun) -> None:
    rehearsal = Rehearsal.objects.select_related("revision__request__project").get(
        pk=task_run.params["rehearsal"]
    )
    if rehearsal.status != RehearsalStatus.QUEUED:
        taskruns.succeed(task_run, {"skipped": rehearsal.status}, progress="Nothing to do (SQL changed)")
        return
    rehearsal.status = RehearsalStatus.RUNNING
    rehearsal.save(update_fields=["status"])
    req = rehearsal.revision.request
    plan = build_plan(rehearsal.revision.sql)
    policy = ProjectMigrationPolicy.for_project(req.project)
    try:
        if req.project.is_neon:
            _on_neon_branch(task_run, rehearsal, plan, policy)
        else:
            _in_transaction(task_run, rehearsal, plan, policy)
    except (TargetError, NeonAPIError) as exc:
        message = getattr(exc, "message", str(exc))
        _finish(rehearsal, RehearsalStatus.FAILED, reason=f"The rehearsal could not run: {message}")
        taskruns.fail(task_run, message)
    else:
        taskruns.succeed(
            task_run,
            {"status": rehearsal.status},
            progress=f"Rehearsal {rehearsal.get_status_display().lower()}",
        )
    audit.record(task_run.created_by, "migration.rehearsed", project=req.project, obj=req,
                 outcome=Outcome.FAILURE if rehearsal.status == RehearsalStatus.FAILED else Outcome.SUCCESS,
                 result=rehearsal.status)  # fmt: skip


def rehearsal_failed(task_run: TaskRun, message: str) -> None:
    rehearsal = Rehearsal.objects.filter(pk=task_run.params.get("rehearsal")).first()
    if rehearsal is not None and rehearsal.status in (RehearsalStatus.QUEUED, RehearsalStatus.RUNNING):
        _finish(rehearsal, RehearsalStatus.FAILED, reason=message)


def _store_result(rehearsal: Rehearsal, result, before, after) -> None:
    diff = target.diff_json(before, after) if before is not None and after is not None else []
    if result.ok:
        _finish(rehearsal, RehearsalStatus.SUCCEEDED, report=report_json(result), diff=diff)
    else:
        _finish(rehearsal, RehearsalStatus.FAILED, reason=result.message, report=report_json(result))


def _progress(task_run):
    return lambda progress: taskruns.heartbeat(task_run, f"Rehearsal: {progress.message}")


# --- plain Postgres ----------------------------------------------------------------------------


def snapshot_sizes(project, plan) -> dict[str, int]:
    """Total sizes of the plan's relations from the latest schema snapshot ("schema.name" -> bytes)."""
    snapshot = latest_snapshot(project)
    if snapshot is None:
        return {}
    keys = {engine_rehearse.size_key(r) for r in plan.relations}
    rows = SchemaRelation.objects.filter(snapshot=snapshot).values_list("schema", "name", "total_bytes")
    return {f"{s}.{n}": size for s, n, size in rows if f"{s}.{n}" in keys}


def _in_transaction(task_run, rehearsal: Rehearsal, plan, policy) -> None:
    rehearsal.method = TRANSACTION
    decision = engine_rehearse.decide_rehearsal(
        plan,
        snapshot_sizes(rehearsal.revision.request.project, plan),
        max_table_bytes=policy.rehearsal_max_table_bytes,
    )
    if not decision.allowed:
        _finish(rehearsal, RehearsalStatus.SKIPPED, reason=f"No rehearsal ran: {decision.reason}")
        return
    taskruns.heartbeat(task_run, "Rehearsal: connecting to the target")
    with target.open_request_target(rehearsal.revision.request, policy) as opened:
        conn = opened.conn
        # The engine's rehearse_in_transaction, with the schema read inside the same transaction.
        conn.execute(own("BEGIN"))
        try:
            before = target.read_schema(conn)
            result = apply_migration(
                conn, plan, migration_id=f"rehearsal-{rehearsal.pk}", checksum=plan.checksum,
                settings=target.apply_settings(policy, None), capture_effects=True, on_progress=_progress(task_run),
            )  # fmt: skip
            after = target.read_schema(conn) if result.ok else None
        finally:
            if not conn.closed:  # a lost session rolled everything back already
                conn.execute(own("ROLLBACK"))
    _store_result(rehearsal, result, before, after)


# --- Neon: a temporary branch ---------------------------------------------------------------------


def _parent_branch_id(project, req) -> str:
    branch = resolve_branch(project, req.branch_id or None)
    if branch is None:
        raise TargetError(
            "The target branch is unknown to the dashboard; sync the branches first.", code="url"
        )
    return branch.branch_id


def _on_neon_branch(task_run, rehearsal: Rehearsal, plan, policy) -> None:
    rehearsal.method = NEON
    req = rehearsal.revision.request
    project = req.project
    pid = project.neon_project_id
    database, role = target.request_names(req)
    with client_for(project) as client:
        taskruns.heartbeat(task_run, "Rehearsal: creating a temporary branch")
        name = f"rehearsal-{req.pk}-r{rehearsal.revision.number}-{uuid.uuid4().hex[:6]}"
        answer = client.create_branch(pid, parent_id=_parent_branch_id(project, req), name=name)
        branch_id = answer["branch"]["id"]
        rehearsal.temp_branch_id = branch_id
        rehearsal.save(update_fields=["temp_branch_id", "method"])
        try:
            client.wait_for_operations(
                pid, answer.get("operations") or [], timeout=settings.NEON_OPERATION_TIMEOUT
            )
            url = client.connection_uri(
                pid, branch_id=branch_id, database_name=database, role_name=role, pooled=False
            )
            _apply_on_branch(task_run, rehearsal, plan, policy, url)
        finally:
            taskruns.heartbeat(task_run, "Rehearsal: deleting the temporary branch")
            _delete_branch(client, pid, branch_id)


def _delete_branch(client, pid: str, branch_id: str) -> None:
    deleted = client.delete_branch(pid, branch_id)
    client.wait_for_operations(pid, deleted.get("operations") or [], timeout=settings.NEON_OPERATION_TIMEOUT)


def _apply_on_branch(task_run, rehearsal, plan, policy, url: str) -> None:
    taskruns.heartbeat(task_run, "Rehearsal: applying on the temporary branch")
    with target.open_branch_url(url, policy) as opened:
        conn = opened.conn
        before = target.read_schema(conn)
        result = apply_migration(
            conn, plan, migration_id=f"rehearsal-{rehearsal.pk}", checksum=plan.checksum,
            settings=target.apply_settings(policy, None), capture_effects=True, on_progress=_progress(task_run),
            side_connect=lambda: target.side_connection(url, policy),
        )  # fmt: skip
        try:
            after = target.read_schema(conn) if result.ok else None
        except psycopg.Error:
            after = None
    _store_result(rehearsal, result, before, after)
