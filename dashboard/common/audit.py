"""Writing audit events: one call per state change, success or failure."""

from dashboard.models import AuditEvent, Outcome


def record(
    actor, action: str, *, project=None, team=None, obj=None, outcome=Outcome.SUCCESS, **detail
) -> AuditEvent:
    """Record who did what to which object, and how it ended. Never pass secrets in detail."""
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent.objects.create(
        actor=actor if is_user else None,
        actor_label=actor.get_username() if is_user else "system",
        action=action,
        project=project,
        team=team or (project.team if project is not None else None),
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=str(getattr(obj, "pk", "") or "") if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        outcome=outcome,
        detail=detail,
    )
