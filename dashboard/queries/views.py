"""Query health pages: top statements over a window, one statement's history and plan."""

import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.common import audit
from dashboard.common.access import get_project_for_user, require_role
from dashboard.common.htmx import render_page, task_partial, wants_partial
from dashboard.introspection.explain import ExplainRefused, analyze_refusal, inspect_statement
from dashboard.models import CollectorState, Outcome, QueryText, Role, TaskRun
from dashboard.neon.state import compute_is_idle, resolve_branch
from dashboard.queries import branch_explain, reports, services
from dashboard.queries.tasks import COLLECT_NOW_KIND, collect_now, start_explain_on_branch
from dashboard.taskruns import lifecycle

MAX_TEXT_FILTER = 200


def _parse_local(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def parse_window(params, now: datetime) -> tuple[reports.Window, str]:
    """The window asked for, or the last 24 hours with a message saying why the input was not used."""
    key = params.get("window", "24h")
    if key in reports.WINDOWS:
        return reports.Window(key, now - reports.WINDOWS[key], now), ""
    if key == "custom":
        start, end = (
            _parse_local(params.get("from", "")),
            _parse_local(params.get("to", "") or now.isoformat()),
        )
        if start is None or end is None:
            error = "Enter the custom window as dates and times (YYYY-MM-DDTHH:MM, UTC)."
        elif start >= end:
            error = "The custom window must start before it ends."
        elif end - start > timedelta(days=settings.QUERIES_RETENTION_DAYS + 1):
            error = f"History is kept for {settings.QUERIES_RETENTION_DAYS} days; choose a shorter window."
        else:
            return reports.Window("custom", start, end), ""
        return reports.Window("24h", now - reports.WINDOWS["24h"], now), error
    return reports.Window(
        "24h", now - reports.WINDOWS["24h"], now
    ), "Unknown window; showing the last 24 hours."


def _filters(params) -> reports.Filters:
    return reports.Filters(
        role=params.get("role", "")[:128],
        database=params.get("database", "")[:128],
        text=params.get("q", "").strip()[:MAX_TEXT_FILTER],
    )


def _page_number(value) -> int:
    try:
        return min(max(int(value), 1), 10_000)
    except (TypeError, ValueError):
        return 1


def _query_prefix(params) -> str:
    keep = {
        k: params.get(k) for k in ("window", "from", "to", "sort", "role", "database", "q") if params.get(k)
    }
    return urlencode(keep)


IDLE_COLLECT_MESSAGE = (
    "Neon reports the compute idle; a snapshot would wake it. Wake the compute first, then collect."
)
# A finished "Collect now" stays on the page this long (its outcome, or why it failed).
RECENT_RUN = timedelta(minutes=10)


def _collector_context(request, project, membership, **extra) -> dict:
    run = TaskRun.objects.filter(
        project=project, kind=COLLECT_NOW_KIND, created_at__gte=timezone.now() - RECENT_RUN
    ).first()
    return {
        "project": project,
        "membership": membership,
        "collector": CollectorState.objects.filter(project=project).defer("baseline", "totals").first(),
        "interval_seconds": settings.QUERIES_COLLECT_INTERVAL_SECONDS,
        "now": timezone.now(),
        "can_collect": membership.has_role(Role.ENGINEER),
        "run": run,
        "query_prefix": _query_prefix(request.GET),
        **extra,
    }


@login_required
@require_http_methods(["GET", "POST"])
def queries_collect(request, slug):
    """GET: the collector status partial (polled while a snapshot runs). POST: "Collect now" (engineer)."""
    if request.method == "GET":
        project, membership = get_project_for_user(request, slug)
        context = _collector_context(request, project, membership)
        return task_partial(request, "queries/_collector_status.html", context, context["run"])
    project, membership = get_project_for_user(request, slug, Role.ENGINEER, action=COLLECT_NOW_KIND)
    if compute_is_idle(project):  # only the wake button wakes a compute, never a snapshot
        audit.record(request.user, COLLECT_NOW_KIND, project=project, outcome=Outcome.FAILURE,
                     error="compute idle")  # fmt: skip
        context = _collector_context(request, project, membership, refusal=IDLE_COLLECT_MESSAGE)
        if wants_partial(request):  # htmx does not swap 4xx responses: the partial carries the refusal
            return render(request, "queries/_collector_status.html", context)
        return render(request, "queries/list.html", {**_list_context(request, project, membership), **context},
                      status=409)  # fmt: skip
    with transaction.atomic():
        run = lifecycle.enqueue(collect_now, COLLECT_NOW_KIND, project=project, user=request.user)
        audit.record(request.user, COLLECT_NOW_KIND, project=project, obj=run)
    if wants_partial(request):
        return render(
            request, "queries/_collector_status.html", _collector_context(request, project, membership)
        )
    messages.info(request, "Taking a statement snapshot; the page shows it when it is ready.")
    return redirect("queries_list", slug=project.slug)


@login_required
@require_GET
def queries_list(request, slug):
    project, membership = get_project_for_user(request, slug)
    context = _list_context(request, project, membership)
    return render_page(request, "queries/list.html", "queries/_table.html", context)


def _list_context(request, project, membership) -> dict:
    window, window_error = parse_window(request.GET, timezone.now())
    filters = _filters(request.GET)
    sort = request.GET.get("sort", "total") if request.GET.get("sort") in reports.SORTS else "total"
    page = reports.top_statements(project, window, filters, sort, _page_number(request.GET.get("page")),
                                  hide_literals=hides_literals(membership))  # fmt: skip
    return {
        **_collector_context(request, project, membership),
        "window": window,
        "window_error": window_error,
        "windows": reports.WINDOW_LABELS,
        "filters": filters,
        "sort": sort,
        "sort_label": reports.SORTS[sort][1],
        "sorts": {key: label for key, (_, label) in reports.SORTS.items()},
        "page": page,
        "rows": page.rows,
        **reports.filter_choices(project),
    }


def hides_literals(membership) -> bool:
    """Viewers see statement texts without literals, as on the activity page (they may hold secrets)."""
    return not membership.has_role(Role.ENGINEER)


def _query_text(project, queryid: str) -> QueryText:
    try:
        number = int(queryid)
    except ValueError:
        raise Http404("No such statement") from None
    text = QueryText.objects.filter(project=project, queryid=number).first()
    # The dashboard's own statements are not shown (a text only they ran); user traffic with the
    # same text id (comments do not change it) is.
    if text is None or (text.statements.exists() and not text.statements.filter(is_own=False).exists()):
        raise Http404("No such statement")
    return text


def _server_version(project) -> int | None:
    state = CollectorState.objects.filter(project=project).defer("baseline", "totals").first()
    if state and state.server_version_num:
        return state.server_version_num
    return (project.check_result or {}).get("server_version_num")


def _detail_context(request, project, membership, query_text: QueryText) -> dict:
    window, window_error = parse_window(request.GET, timezone.now())
    history = reports.statement_history(project, query_text, window)
    hide = hides_literals(membership)
    try:
        if hide and query_text.has_hidden_literals:
            raise ExplainRefused(services.HIDDEN_LITERALS_MESSAGE)
        info = inspect_statement(query_text.text, settings.QUERIES_PARSE_MAX_CHARS)
        explain_error = ""
    except ExplainRefused as exc:
        info, explain_error = None, exc.message
    version = _server_version(project)
    return {
        "project": project,
        "membership": membership,
        "query": query_text,
        "pretty_text": reports.pretty(query_text.text_for(hide), settings.QUERIES_PARSE_MAX_CHARS),
        "window": window,
        "window_error": window_error,
        "windows": reports.WINDOW_LABELS,
        "charts": [
            reports.chart("Calls", "calls", history, "calls", window),
            reports.chart("Mean time", "ms", history, "mean_ms", window),
            reports.chart("Total time", "ms", history, "total_ms", window),
        ],
        "has_history": bool(history),
        "per_role": reports.per_role(project, query_text, window),
        "resets": [b["start"] for b in history if b["reset"]],
        "roles": query_text.statements.order_by("role_name").values_list("role_name", flat=True).distinct(),
        "explainable": info,
        "explain_error": explain_error,
        "param_numbers": range(1, (info.param_count if info else 0) + 1),
        "generic_available": bool(version and version >= 160000),
        "can_analyze": membership.has_role(Role.ENGINEER) and bool(info) and not analyze_refusal(info),
        "analyze_refusal": analyze_refusal(info) if info else "",
        "is_engineer": membership.has_role(Role.ENGINEER),
        **(_branch_context(project, membership, query_text) if membership.has_role(Role.ENGINEER) else {}),
    }


def _branch_context(project, membership, query_text: QueryText, refusal=None, form=None) -> dict:
    """The "EXPLAIN ANALYZE on a temporary branch" part of the statement page (engineers and admins)."""
    return {
        "project": project,
        "membership": membership,
        "query": query_text,
        "branch_explain_available": branch_explain.available(project),
        "parent_branch": resolve_branch(project, None),
        "branch_run": branch_explain.latest_run(project, query_text.queryid),
        "branch_refusal": refusal.message if refusal else "",
        "branch_refusal_idle": bool(refusal and refusal.idle),
        "typed_values": _typed_values(form),
    }


PARAM_FIELD = re.compile(r"param([1-9][0-9]{0,2})")


def _typed_values(form) -> list[tuple[str, str]]:
    """The parameter values the person typed, sent again by "Start a temporary branch anyway"."""
    names = [name for name in (form or ()) if PARAM_FIELD.fullmatch(name)]
    return [(name, form[name]) for name in sorted(names, key=lambda name: int(name[5:]))]


@login_required
@require_GET
def query_detail(request, slug, queryid):
    project, membership = get_project_for_user(request, slug)
    query_text = _query_text(project, queryid)
    return render(request, "queries/detail.html", _detail_context(request, project, membership, query_text))


@login_required
@require_POST
def query_explain(request, slug, queryid):
    mode = request.POST.get("mode", "plain")
    mode = mode if mode in services.EXPLAIN_MODES else "plain"
    project, membership = get_project_for_user(request, slug)
    if mode == "analyze":
        require_role(request, membership, Role.ENGINEER, project=project, action="query.explain_analyze",
                     message="EXPLAIN ANALYZE runs the statement: it needs the engineer role.",
                     queryid=queryid[:40])  # fmt: skip
    query_text = _query_text(project, queryid)
    # Any EXPLAIN connects, which would wake a suspended Neon compute: instead show the idle
    # notice, whose audited "Wake compute" button (engineers and admins) is the way to wake it.
    compute_idle = compute_is_idle(project)
    # On a project that can explain on a temporary branch, ANALYZE on production needs a tick.
    confirmed = request.POST.get("confirm_production") == "1" or not branch_explain.available(project)
    plan, error = services.explain_for_page(project, query_text, mode, request.POST, compute_idle=compute_idle,
                                            hide_literals=hides_literals(membership),
                                            production_confirmed=confirmed)  # fmt: skip
    if mode == "analyze":
        audit.record(request.user, "query.explain_analyze", project=project, obj=query_text,
                     outcome=Outcome.FAILURE if error else Outcome.SUCCESS, queryid=query_text.queryid,
                     error=error[:500])  # fmt: skip
    context = {"project": project, "membership": membership, "query": query_text, "plan": plan,
               "error": error, "mode": mode, "compute_idle": compute_idle}  # fmt: skip
    if wants_partial(
        request
    ):  # htmx does not swap 4xx responses, so the partial carries the error with a 200
        return render(request, "queries/_plan.html", context)
    detail = _detail_context(request, project, membership, query_text)
    return render(request, "queries/detail.html", {**detail, **context}, status=200 if not error else 400)


@login_required
@require_http_methods(["GET", "POST"])
def query_explain_branch(request, slug, queryid):
    """GET: the statement's latest EXPLAIN ANALYZE on a temporary branch (polled while it runs).
    POST: start one (engineers and admins; the plan may show the values they typed)."""
    project, membership = get_project_for_user(request, slug, Role.ENGINEER, action=branch_explain.AUDIT_ACTION,
                                               queryid=queryid[:40])  # fmt: skip
    query_text = _query_text(project, queryid)
    if request.method == "GET":
        if not wants_partial(request):
            return redirect("query_detail", slug=project.slug, queryid=query_text.queryid)
        context = _branch_context(project, membership, query_text)
        return task_partial(request, "queries/_branch_explain.html", context, context["branch_run"])
    try:
        run = start_explain_on_branch(
            project, query_text, request.POST, request.user, wake=request.POST.get("wake") == "1"
        )
    except branch_explain.Refused as exc:
        context = _branch_context(project, membership, query_text, refusal=exc, form=request.POST)
        if wants_partial(request):  # htmx does not swap 4xx responses: the partial carries the refusal
            return render(request, "queries/_branch_explain.html", context)
        detail = _detail_context(request, project, membership, query_text)
        return render(request, "queries/detail.html", {**detail, **context}, status=exc.status)
    if wants_partial(request):
        return render(
            request, "queries/_branch_explain.html", _branch_context(project, membership, query_text)
        )
    if lifecycle.queue_failed(run):  # the partial shows the failed run; a full page says it here
        messages.error(request, f"EXPLAIN ANALYZE on a temporary branch: {run.error}")
    else:
        messages.info(
            request,
            "EXPLAIN ANALYZE on a temporary branch started; its plan is shown below when it is ready.",
        )
    return redirect("query_detail", slug=project.slug, queryid=query_text.queryid)


@login_required
@require_POST
def query_explain_branch_cancel(request, slug, queryid):
    """Stop the statement's running EXPLAIN ANALYZE on a temporary branch; the worker deletes the branch."""
    project, membership = get_project_for_user(request, slug, Role.ENGINEER,
                                               action=f"{branch_explain.AUDIT_ACTION}.cancel")  # fmt: skip
    query_text = _query_text(project, queryid)
    cancelled = branch_explain.request_cancel(project, query_text.queryid, request.user)
    if wants_partial(request):
        return render(
            request, "queries/_branch_explain.html", _branch_context(project, membership, query_text)
        )
    if cancelled is None:
        messages.info(request, "No EXPLAIN ANALYZE of this statement on a temporary branch is running.")
    else:
        messages.info(request, "Cancelling; the temporary branch is deleted as the run stops.")
    return redirect("query_detail", slug=project.slug, queryid=query_text.queryid)
