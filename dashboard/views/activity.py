"""Live activity: sessions, long-running queries, the blocking tree; cancel (engineer), terminate (admin)."""

import psycopg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseStopPolling
from psycopg import sql

from dashboard import audit
from dashboard.access import get_project_for_user
from dashboard.connections import read_url, target_settings
from dashboard.introspection.activity import Activity, read_activity, signal_backend
from dashboard.models import Outcome, Role
from dashboard.neon.state import compute_is_idle
from dashboard.targets.connect import TargetError, connect, explain_query_error, read_only
from dashboard.targets.urls import InvalidURL

ACTIONS = {
    "cancel": {
        "role": Role.ENGINEER,
        "verb": "Cancel the running query of",
        "done": "Cancelled the query of",
    },
    "terminate": {"role": Role.ADMIN, "verb": "Terminate the session", "done": "Terminated the session"},
}


def load_activity(project) -> tuple[Activity | None, str]:
    """One short timed read of pg_stat_activity; an error message instead of an exception."""
    url = read_url(project)
    try:
        cfg = target_settings(url)
        with connect(url, cfg).conn as conn, read_only(conn, cfg) as cur:
            return read_activity(cur), ""
    except (TargetError, InvalidURL) as exc:
        return None, getattr(exc, "message", str(exc))
    except psycopg.Error as exc:
        return None, explain_query_error(exc).message


def _context(request, project, membership, *, idle: bool = False) -> dict:
    activity, error = (None, "") if idle else load_activity(project)
    return {
        "project": project,
        "membership": membership,
        "activity": activity,
        "error": error,
        "compute_idle": idle,
        "long_seconds": settings.HEALTH_THRESHOLDS["long_running_seconds"],
        "can_cancel": membership.has_role(Role.ENGINEER),
        "can_terminate": membership.has_role(Role.ADMIN),
    }


@login_required
@require_GET
def activity_page(request, slug):
    project, membership = get_project_for_user(request, slug)
    # Reading activity would wake a suspended Neon compute: only when the person asks for it.
    # Waking is for engineers and admins, as on the branches page.
    wake = request.GET.get("wake") == "1" and membership.has_role(Role.ENGINEER)
    idle = not wake and compute_is_idle(project)
    context = _context(request, project, membership, idle=idle)
    if request.htmx:
        response = render(request, "activity/_sessions.html", context)
        return HttpResponseStopPolling(response.content) if idle else response
    return render(request, "activity/page.html", context)


def _signal(project, pid: int, action: str) -> tuple[bool | None, str]:
    url = read_url(project)
    try:
        cfg = target_settings(url)
        with connect(url, cfg).conn as conn, conn.transaction():
            conn.execute(
                sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(cfg.statement_timeout_ms))
            )
            return signal_backend(conn, pid, action), ""
    except (TargetError, InvalidURL) as exc:
        return None, getattr(exc, "message", str(exc))
    except psycopg.Error as exc:
        return None, explain_query_error(exc).message


@login_required
@require_http_methods(["GET", "POST"])
def activity_signal(request, slug, pid, action):
    spec = ACTIONS[action]
    project, membership = get_project_for_user(request, slug)
    if not membership.has_role(spec["role"]):
        if request.method == "POST":  # an attempted action, recorded like any other outcome
            audit.record(request.user, f"activity.{action}", project=project, outcome=Outcome.DENIED, pid=pid)
        raise PermissionDenied(f"This needs the {spec['role']} role in team {project.team.name}.")
    if request.method == "GET":  # the confirmation step when JavaScript (hx-confirm) is not there
        return render(
            request,
            "activity/confirm.html",
            {"project": project, "pid": pid, "action": action, "verb": spec["verb"]},
        )
    signalled, error = _signal(project, pid, action)
    if error or not signalled:
        message = error or (
            f"No session {pid} in this database (it may have ended)."
            if signalled is None
            else f"Postgres refused to signal session {pid}."
        )
        audit.record(
            request.user,
            f"activity.{action}",
            project=project,
            outcome=Outcome.FAILURE,
            pid=pid,
            error=message[:500],
        )
        messages.error(request, message)
    else:
        audit.record(request.user, f"activity.{action}", project=project, pid=pid)
        messages.success(request, f"{spec['done']} {pid}.")
    if request.htmx:
        return render(request, "activity/_sessions.html", _context(request, project, membership))
    return redirect("activity_page", slug=project.slug)


urlpatterns = [
    path("projects/<slug:slug>/activity/", activity_page, name="activity_page"),
    path(
        "projects/<slug:slug>/activity/<int:pid>/cancel/",
        activity_signal,
        {"action": "cancel"},
        name="activity_cancel",
    ),
    path(
        "projects/<slug:slug>/activity/<int:pid>/terminate/",
        activity_signal,
        {"action": "terminate"},
        name="activity_terminate",
    ),
]
