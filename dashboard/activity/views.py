"""Live activity: sessions, long-running queries, the blocking tree; cancel (engineer), terminate (admin).

The page polls every 5 seconds while open. Polling never wakes a Neon compute
(waking is the audited POST of the neon area), and it stops after a
connection error or after ACTIVITY_POLL_MAX_SECONDS, with a "Resume" button,
so a forgotten tab neither keeps a compute awake nor pays a connect timeout forever.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseStopPolling

from dashboard.activity import services
from dashboard.common import audit
from dashboard.common.access import get_project_for_user
from dashboard.common.htmx import wants_partial
from dashboard.introspection.activity import Activity, redact_literals
from dashboard.introspection.redaction import redact_secrets
from dashboard.models import Outcome, Role
from dashboard.neon.state import compute_is_idle

ACTIONS = {
    "cancel": {
        "role": Role.ENGINEER,
        "verb": "Cancel the running query of",
        "done": "Cancelled the query of",
    },
    "terminate": {"role": Role.ADMIN, "verb": "Terminate the session", "done": "Terminated the session"},
}


def _redact_for_viewers(activity: Activity | None, membership) -> None:
    """Query texts may hold secrets (ALTER ROLE ... PASSWORD '...'): masked for everyone, and viewers
    see the texts without any literal."""
    if activity is None:
        return
    hide_literals = not membership.has_role(Role.ENGINEER)
    for session in {id(s): s for s in [*activity.sessions, *activity.tree]}.values():
        session.query = redact_secrets(session.query)
        if hide_literals:
            session.query = redact_literals(session.query)


def _context(request, project, membership, *, idle: bool = False) -> dict:
    activity, error = (None, "") if idle else services.load_activity(project)
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
    # offers the neon area's audited POST ".../wake/" to engineers and admins instead.
    idle = compute_is_idle(project)
    partial = wants_partial(request)
    expired = partial and _polling_expired(request)
    if expired:  # answer without connecting: the tab has been open long enough
        context = {**_context(request, project, membership, idle=True), "compute_idle": False, "paused": True}
    else:
        context = _context(request, project, membership, idle=idle)
    if partial:
        response = render(request, "activity/_sessions.html", context)
        stop = idle or expired or bool(context["error"])
        return HttpResponseStopPolling(response.content) if stop else response
    return render(request, "activity/page.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def activity_signal(request, slug, pid, action):
    spec = ACTIONS[action]
    project, membership = get_project_for_user(
        request, slug, spec["role"], action=f"activity.{action}", pid=pid
    )
    if request.method == "GET":  # the confirmation step when JavaScript (hx-confirm) is not there
        return render(
            request,
            "activity/confirm.html",
            {"project": project, "pid": pid, "action": action, "verb": spec["verb"]},
        )
    signalled, error = services.signal(project, pid, action)
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
    if wants_partial(request):
        return render(request, "activity/_sessions.html", _context(request, project, membership))
    return redirect("activity_page", slug=project.slug)
