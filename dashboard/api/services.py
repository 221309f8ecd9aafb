"""What the machine endpoints serve: the last stored health of a project as JSON and as Prometheus text."""

from dashboard.health.services import latest
from dashboard.models import CollectorState, Project

STATUS_VALUE = {"ok": 0, "warning": 1, "critical": 2, "unknown": -1}


def health_payload(project: Project) -> dict:
    health = latest(project)
    snapshot = health["snapshot"]
    note = health["note"]
    return {
        "project": project.slug,
        "status": health["overall"],
        "taken_at": snapshot.taken_at.isoformat() if snapshot else None,
        "checks": health["checks"],
        "last_error": note.error if note else "",
        "skipped": note.skipped if note else "",
    }


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metrics_text(projects) -> str:
    lines = [
        "# HELP neon_ops_health_status Health check status: 0 ok, 1 warning, 2 critical, -1 unknown.",
        "# TYPE neon_ops_health_status gauge",
    ]
    values = [
        "# HELP neon_ops_health_value Measured value of the health check.",
        "# TYPE neon_ops_health_value gauge",
    ]
    ages = [
        "# HELP neon_ops_health_taken_timestamp_seconds When the checks were taken (Unix time).",
        "# TYPE neon_ops_health_taken_timestamp_seconds gauge",
    ]
    collected = [
        "# HELP neon_ops_statements_last_snapshot_timestamp_seconds When statements were last collected (Unix time).",
        "# TYPE neon_ops_statements_last_snapshot_timestamp_seconds gauge",
    ]
    states = dict(
        CollectorState.objects.filter(project__in=projects, last_snapshot_at__isnull=False).values_list(
            "project_id", "last_snapshot_at"
        )
    )
    for project in projects:
        if project.pk in states:
            collected.append(
                f'neon_ops_statements_last_snapshot_timestamp_seconds{{project="{_label(project.slug)}"}} '
                f"{states[project.pk].timestamp():.0f}"
            )
        health = latest(project)
        slug = _label(project.slug)
        if health["snapshot"]:
            ages.append(
                f'neon_ops_health_taken_timestamp_seconds{{project="{slug}"}} '
                f"{health['snapshot'].taken_at.timestamp():.0f}"
            )
        for check in sorted(health["checks"], key=lambda c: c["id"]):
            labels = f'project="{slug}",check="{_label(check["id"])}"'
            lines.append(f"neon_ops_health_status{{{labels}}} {STATUS_VALUE.get(check['status'], -1)}")
            if isinstance(check.get("metric"), int | float):
                values.append(f"neon_ops_health_value{{{labels}}} {check['metric']}")
    return "\n".join(lines + values + ages + collected) + "\n"
