"""Health findings from a history read: migrations other tools left failed, dirty or partial.

Only the newest entry of each migration counts, so a failed attempt a tool later resolved
(Prisma rolled back then re-applied, say) is not reported. Messages are plain text quoting
the names as the target holds them; whoever renders them escapes them.
"""

from dataclasses import asdict, dataclass

from .model import DIRTY, FAILED, PARTIAL, PROBLEM_STATES, HistoryEntry, HistoryRead
from .tools import LABELS

CRITICAL, WARNING = "critical", "warning"

# Why each state matters, per tool where it differs: the tool refuses to go on, or it rolled back itself.
EXPLANATIONS = {
    (
        "prisma",
        FAILED,
    ): "is neither finished nor rolled back; prisma migrate deploy refuses to run until it is resolved",
    (
        "golang-migrate",
        DIRTY,
    ): "is dirty (it failed half-way); migrate refuses to run until the version is forced",
    ("flyway", FAILED): "failed (success = false); Flyway refuses to migrate until it is repaired",
    ("atlas", PARTIAL): "was applied only in part or recorded an error; atlas migrate apply stops there",
    ("liquibase", FAILED): "was recorded as FAILED",
    ("sqitch", FAILED): "failed to deploy (Sqitch reverted it)",
}
WARNING_ONLY = {("liquibase", FAILED), ("sqitch", FAILED)}
GENERIC = {FAILED: "failed", DIRTY: "is dirty", PARTIAL: "was applied only in part"}


@dataclass
class Finding:
    id: str
    severity: str
    tool: str
    schema: str
    table: str
    key: str
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def problems(read: HistoryRead) -> list[Finding]:
    findings = []
    for history in read.tools:
        seen: set[str] = set()
        for entry in history.entries:  # newest first: the first entry of a key is its current state
            if entry.key in seen:
                continue
            seen.add(entry.key)
            if entry.state in PROBLEM_STATES:
                findings.append(_finding(entry))
    return findings


def _name(entry: HistoryEntry) -> str:
    """The version or name, with the description when it adds something (Sqitch keys are hashes)."""
    if entry.tool == "sqitch":
        return repr(entry.description)
    if entry.description and entry.description != entry.key:
        return f"{entry.key!r} ({entry.description})"
    return repr(entry.key)


def _finding(entry: HistoryEntry) -> Finding:
    what = (entry.tool, entry.state)
    explanation = EXPLANATIONS.get(what, GENERIC[entry.state])
    label = LABELS.get(entry.tool, entry.tool)
    message = f"{label} migration {_name(entry)} in {entry.schema}.{entry.table} {explanation}."
    state_id = entry.state.replace(" ", "_")
    return Finding(
        id=f"migration_history.{entry.tool}.{state_id}",
        severity=WARNING if what in WARNING_ONLY else CRITICAL,
        tool=entry.tool,
        schema=entry.schema,
        table=entry.table,
        key=entry.key,
        message=message,
    )
