"""The project overview's "recent migrations" block (stored data only; never touches the target)."""

from django import template

from migrations_app.models import FINISHED_STATES, ApplyOutcome, ApplyRun

register = template.Library()
RECENT = 5


@register.inclusion_tag("migrations_app/_recent.html")
def recent_migrations(project) -> dict:
    runs = (
        ApplyRun.objects.filter(revision__request__project=project, finished_at__isnull=False)
        .exclude(outcome__in=[ApplyOutcome.WAITING, ApplyOutcome.RUNNING])
        .select_related("revision__request", "started_by")
        .order_by("-finished_at")[:RECENT]
    )
    pending = project.migration_requests.exclude(state__in=FINISHED_STATES).count()
    return {"project": project, "runs": runs, "pending": pending}
