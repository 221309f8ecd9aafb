"""Celery tasks of the queries area: thin, take ids, claim with a conditional UPDATE."""

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from dashboard.common import audit
from dashboard.health.services import cleanup_snapshots, take_health_snapshot
from dashboard.models import CollectorState, CollectorStatus, HealthSnapshot, Outcome, Project, TaskRun
from dashboard.queries import branch_explain
from dashboard.queries.collector import claim_due, claim_now, cleanup, collect_project, due_project_ids
from dashboard.taskruns import lifecycle

COLLECT_NOW_KIND = "queries.collect_now"
# Outcomes of a snapshot that leave the person asking for one without new data.
NO_DATA = (CollectorStatus.ERROR, CollectorStatus.UNAVAILABLE, CollectorStatus.IDLE)


@shared_task(name="queries.collect_due", soft_time_limit=30, time_limit=60)
def collect_due_statements() -> int:
    """Beat entry: enqueue one collection per project whose snapshot is due."""
    ids = due_project_ids(timezone.now())
    for project_id in ids:
        collect_statements.delay(project_id)
    return len(ids)


def collect_and_check(project: Project) -> CollectorState:
    """Snapshot statements, then health checks on the same cadence (so health checks back off too)."""
    state = collect_project(project)
    if state.status == CollectorStatus.ERROR:  # unreachable: do not wait for the connect timeout twice
        HealthSnapshot.objects.create(project=project, error=state.message)
    else:
        take_health_snapshot(project)  # records "skipped" itself when the compute is idle
    return state


@shared_task(name="queries.collect_statements", soft_time_limit=90, time_limit=120)
def collect_statements(project_id: int) -> str:
    project = Project.objects.filter(pk=project_id).first()
    if project is None or not claim_due(project_id, timezone.now()):
        return "not due"
    return collect_and_check(project).status


@shared_task(name="queries.collect_now", soft_time_limit=90, time_limit=120)
def collect_now(run_id: str) -> None:
    """One snapshot a person asked for ("Collect now"), whether or not one is due."""
    run = lifecycle.claim(run_id)
    if run is not None:
        lifecycle.execute(run, _collect_now, audit_action=COLLECT_NOW_KIND)


def _collect_now(run: TaskRun) -> None:
    project = run.project
    lifecycle.heartbeat(run, "Reading pg_stat_statements")
    if not claim_now(project.pk, timezone.now()):
        lifecycle.fail(run, "A scheduled snapshot is being taken right now; its data appears when it ends.")
        return
    state = collect_and_check(project)
    if state.status in NO_DATA:
        lifecycle.fail(run, state.message, result={"status": state.status})
    else:
        lifecycle.succeed(run, {"status": state.status}, progress=state.get_status_display())
    outcome = Outcome.FAILURE if state.status in NO_DATA else Outcome.SUCCESS
    audit.record(run.created_by, "queries.collect_now.finished", project=project, obj=run, outcome=outcome,
                 status=state.status)  # fmt: skip


@shared_task(name="queries.cleanup_history", soft_time_limit=300, time_limit=360)
def cleanup_statement_history() -> dict:
    return {**cleanup(), "health_snapshots": cleanup_snapshots()}


# --- EXPLAIN ANALYZE on a temporary Neon branch (dashboard/queries/branch_explain.py) -------------


def start_explain_on_branch(project: Project, query_text, form, user, *, wake: bool) -> TaskRun:
    """Check the request, queue the run and audit the request now (the worker audits the outcome).

    Raises branch_explain.Refused (audited) for a request that may not start, a second one for the
    same statement while one runs included; the project row is locked while checking, so two
    submits at once queue one run.
    """
    try:
        checked = branch_explain.check_request(project, query_text, form, wake=wake)
        with transaction.atomic():
            Project.objects.select_for_update().filter(pk=project.pk).values_list("pk", flat=True).first()
            if branch_explain.active_run(project, query_text.queryid) is not None:
                raise branch_explain.Refused(branch_explain.BUSY_MESSAGE, 409)
            run = lifecycle.enqueue(explain_on_branch, branch_explain.KIND, project=project, user=user,
                                    params=checked.params())  # fmt: skip
            audit.record(user, f"{branch_explain.AUDIT_ACTION}.requested", project=project, obj=query_text,
                         queryid=str(query_text.queryid), branch=checked.parent.name, run=str(run.pk))  # fmt: skip
    except branch_explain.Refused as exc:
        outcome = Outcome.DENIED if exc.message == branch_explain.BUSY_MESSAGE else Outcome.FAILURE
        audit.record(user, branch_explain.AUDIT_ACTION, project=project, obj=query_text, outcome=outcome,
                     queryid=str(query_text.queryid), error=exc.message[:500])  # fmt: skip
        raise
    return run


# Branch creation and deletion each wait up to NEON_OPERATION_TIMEOUT (120 s); the hard limit leaves
# the deletion time to finish after the soft limit stopped the run.
@shared_task(name="queries.explain_on_branch", soft_time_limit=300, time_limit=420)
def explain_on_branch(run_id: str) -> None:
    run = lifecycle.claim(run_id)
    if run is not None:
        lifecycle.execute(run, branch_explain.run_on_branch, audit_action=branch_explain.AUDIT_ACTION)


lifecycle.on_lost(branch_explain.KIND)(branch_explain.audit_lost)
if branch_explain.delete_leftover_branches not in lifecycle.RECONCILE_HOOKS:
    lifecycle.RECONCILE_HOOKS.append(branch_explain.delete_leftover_branches)
