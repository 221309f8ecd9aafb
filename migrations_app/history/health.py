"""The health check of other tools' migrations: failed, dirty or partial ones in the newest read.

dashboard.health.services.latest() adds it to the stored checks, so it reaches the overview's
tiles, the JSON health API and /metrics the same way as every other check. It reads one small
row (the findings stored with the read), never the target.
"""

from django.urls import reverse

from dashboard.health import rules
from migrations_app.history.models import MigrationHistoryRead
from migrations_app.readers.problems import CRITICAL

CHECK_ID = "migration_history"


def migration_history_checks(project) -> list[dict]:
    """[] until a read of the default branch found some tool's history table; else one check."""
    record = (
        MigrationHistoryRead.objects.filter(project=project, branch_id="")
        .order_by("-read_at")
        .only("problems", "tool_tables", "last_read_at")
        .first()
    )
    if record is None or not record.tool_tables:
        return []
    findings = record.problems
    status = rules.OK
    if findings:
        status = rules.CRITICAL if any(f["severity"] == CRITICAL for f in findings) else rules.WARNING
    tables = f"{record.tool_tables} history table{'s' if record.tool_tables != 1 else ''}"
    detail = (
        " ".join(f["message"] for f in findings)
        if findings
        else f"No failed, dirty or partial migration in {tables} (read {record.last_read_at:%Y-%m-%d %H:%M} UTC)."
    )
    return [
        rules.check(
            CHECK_ID,
            "Migrations of other tools",
            status,
            f"{len(findings)} failed or dirty" if findings else f"ok · {tables}",
            detail,
            reverse("migration_list", args=[project.slug]),
            len(findings),
            findings,
        )
    ]
