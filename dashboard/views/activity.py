"""Live activity: sessions, long-running queries, the blocking tree; cancel (engineer), terminate (admin).

The page polls every 5 seconds while open. Polling never wakes a Neon compute
(waking is the audited POST of the branches area), and it stops after a
connection error or after ACTIVITY_POLL_MAX_SECONDS, with a "Resume" button,
so a forgotten tab neither keeps a compute awake nor pays a connect timeout forever.
"""

import time

import psycopg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseStopPolling

from dashboard import audit
from dashboard.access import get_project_for_user
from dashboard.connections import read_url, target_settings
from dashboard.introspection.activity import Activity, read_activity, redact_literals, signal_backend
from dashboard.models import Outcome, Role
from dashboard.neon.state import compute_is_idle
from dashboard.targets.connect import (
    TargetError,
    apply_local_timeouts,
    connect,
    explain_query_error,
    read_only,
)
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
        cfg = target_settings(url, interactive=True)
        with connect(url, cfg).conn as conn, read_only(conn, cfg) as cur:
            return read_activity(cur), ""
    except (TargetError, InvalidURL) as exc:
        return None, getattr(exc, "message", str(exc))
    except psycopg.Error as exc:
        return None, explain_query_error(exc).message


def _redact_for_viewers(activity: Activity | None, membership) -> None:
    """Query texts may hold secrets (ALTER ROLE ... PASSWORD '...'): viewers see them without literals."""
    if activity is None or membership.has_role(Role.ENGINEER):
        return
    for session in {id(s): s for s in [*activity.sessions, *activity.tree]}.values():
        session.query = redact_literals(session.query)


def _context(request, project, membership, *, idle: bool = False) -> dict:
    activity, error = (None, "") if idle else load_activity(project)
    _redact_for_viewers(activity, membership)
    return {
        "project": project,
        "membership": membership,
        "activity": activity,
        "error": error,
        "compute_idle": idle,
        "long_seconds": settings.HEALTH_THRESHOLDS["long_running_seconds"],
        "can_cancel": membership.has_role(Role.ENGINEER),
        "can_terminate": membership.has_role(Role.ADMIN),
        "redacted": not membership.has_role(Role.ENGINEER),
        "polling_since": int(time.time()),
        "poll_minutes": max(1, settings.ACTIVITY_POLL_MAX_SECONDS // 60),
    }


def _polling_expired(request) -> bool:
    """True once this tab has polled longer than ACTIVITY_POLL_MAX_SECONDS (the page sets polling_since)."""
    try:
        since = int(request.GET.get("polling_since", ""))
    except ValueError:
        return False
    return time.time() - since > settings.ACTIVITY_POLL_MAX_SECONDS


@login_required
@require_GET
def activity_page(request, slug):
    project, membership = get_project_for_user(request, slug)
    # Reading activity would wake a suspended Neon compute. A GET never does: the idle notice
    # offers the branches area's audited POST ".../wake/" to engineers and admins instead.
    idle = compute_is_idle(project)
    expired = bool(request.htmx) and _polling_expired(request)
    if expired:  # answer without connecting: the tab has been open long enough
        context = {**_context(request, project, membership, idle=True), "compute_idle": False, "paused": True}
    else:
        context = _context(request, project, membership, idle=idle)
    if request.htmx:
        response = render(request, "activity/_sessions.html", context)
        stop = idle or expired or bool(context["error"])
        return HttpResponseStopPolling(response.content) if stop else response
    return render(request, "activity/page.html", context)


def _signal(project, pid: int, action: str) -> tuple[bool | None, str]:
    url = read_url(project)
    try:
        cfg = target_settings(url, interactive=True)
        with connect(url, cfg).conn as conn, conn.transaction():
            apply_local_timeouts(conn.cursor(), cfg)
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
