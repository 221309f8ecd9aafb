"""The history table of each migration tool: how to find it, what to select, how to read a row.

Each ToolSpec names the relation to look for, the columns it needs (required) and the ones
it shows when present (optional). Columns a newer version of a tool adds are never selected,
so they are ignored; a missing optional column reads as None. Rows arrive as dicts holding
only the selected columns.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from .model import APPLIED, DIRTY, FAILED, PARTIAL, PENDING, ROLLED_BACK, SKIPPED, HistoryEntry

LOGS_LIMIT = 4000  # characters of Prisma's logs kept per entry


@dataclass(frozen=True)
class Found:
    """A relation the catalog query found: its schema, name and columns (name -> format_type)."""

    schema: str
    table: str
    columns: dict[str, str]


@dataclass(frozen=True)
class ToolSpec:
    tool: str
    label: str
    table: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    order_by: tuple[str, ...]  # newest first; the ones present are used, each DESC NULLS LAST
    to_entry: Callable[[dict, dict], HistoryEntry]
    matches: Callable[[Found], bool] = lambda found: True

    def missing(self, found: Found) -> list[str]:
        return [name for name in self.required if name not in found.columns]

    def selected(self, found: Found) -> list[str]:
        return [name for name in self.required + self.optional if name in found.columns]


def jsonable(value):
    """A value as JSON can hold it (times as ISO text, numbers as numbers, the rest as text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def details(row: dict, *names: str) -> dict:
    return {name: jsonable(row[name]) for name in names if name in row}


def text(value) -> str:
    return "" if value is None else str(value)


def entry(base: dict, key, **fields) -> HistoryEntry:
    return HistoryEntry(**base, key=text(key), **fields)


def _django(row: dict, base: dict) -> HistoryEntry:
    return entry(base, f"{row['app']}.{row['name']}", description=text(row["name"]),
                 applied_at=row.get("applied"), details=details(row, "id", "app", "name"))  # fmt: skip


def _drizzle(row: dict, base: dict) -> HistoryEntry:
    """Old tables keep only created_at, the migration's own time (ms); newer ones add applied_at."""
    millis = row.get("created_at")
    own_time = datetime.fromtimestamp(int(millis) / 1000, UTC) if millis is not None else None
    applied = row.get("applied_at")
    name = row.get("name")
    info = details(row, "id", "hash", "name", "applied_at")
    info["created_at_ms"] = jsonable(millis)
    info["migration_time"] = jsonable(own_time)
    return entry(base, name or row["hash"], description=text(name or row["hash"][:12]),
                 applied_at=applied or own_time, time_is_apply_time=applied is not None,
                 details=info)  # fmt: skip


def _prisma(row: dict, base: dict) -> HistoryEntry:
    """Failed = started, neither finished nor rolled back (Prisma also shows a running one so)."""
    if row.get("rolled_back_at") is not None:
        state, success = ROLLED_BACK, False
    elif row.get("finished_at") is not None:
        state, success = APPLIED, True
    else:
        state, success = FAILED, False
    info = details(
        row, "id", "checksum", "started_at", "finished_at", "rolled_back_at", "applied_steps_count"
    )
    if row.get("logs"):
        info["logs"] = row["logs"][:LOGS_LIMIT]
    return entry(base, row["migration_name"], description=text(row["migration_name"]),
                 applied_at=row.get("finished_at") or row.get("started_at"), success=success, state=state,
                 details=info)  # fmt: skip


def _alembic(row: dict, base: dict) -> HistoryEntry:
    """alembic_version holds only the current head(s): no history, no times."""
    return entry(base, row["version_num"], description="current head", applied_at=None, time_is_apply_time=False,
                 details={"current_head": True})  # fmt: skip


def _flyway(row: dict, base: dict) -> HistoryEntry:
    kind = text(row.get("type"))
    success = row["success"]
    state = FAILED if success is False else ROLLED_BACK if kind.startswith("UNDO") else APPLIED
    key = row.get("version") if row.get("version") is not None else row.get("script") or row["installed_rank"]
    return entry(base, key, description=text(row.get("description")), applied_at=row.get("installed_on"),
                 success=bool(success), state=state,
                 details=details(row, "installed_rank", "version", "type", "script", "checksum", "installed_by",
                                 "execution_time"))  # fmt: skip


def _atlas(row: dict, base: dict) -> HistoryEntry:
    """Partial when fewer statements were applied than the file holds, or an error was recorded."""
    applied, total, error = row.get("applied"), row.get("total"), row.get("error")
    broken = bool(error) or (applied is not None and total is not None and applied < total)
    return entry(base, row["version"], description=text(row.get("description")),
                 applied_at=row.get("executed_at"), success=not broken, state=PARTIAL if broken else APPLIED,
                 details=details(row, "type", "applied", "total", "execution_time", "error", "error_stmt", "hash",
                                 "operator_version"))  # fmt: skip


def _rails(row: dict, base: dict) -> HistoryEntry:
    return entry(
        base, row["version"], description=text(row["version"]), applied_at=None, time_is_apply_time=False
    )


def _golang_migrate(row: dict, base: dict) -> HistoryEntry:
    """One row: the current version, dirty when a migration failed half-way."""
    dirty = bool(row["dirty"])
    return entry(base, row["version"], description=text(row["version"]), applied_at=None, time_is_apply_time=False,
                 success=not dirty, state=DIRTY if dirty else APPLIED, details={"dirty": dirty})  # fmt: skip


def _sqitch(row: dict, base: dict) -> HistoryEntry:
    """A deployed change (in sqitch.changes), or a change whose latest event is a revert or a failure."""
    event = row.get("event")
    if row.get("deployed"):
        state, success = APPLIED, True
    elif event == "fail":
        state, success = FAILED, False
    else:
        state, success = ROLLED_BACK, None
    return entry(base, row["change_id"], description=text(row["change"]),
                 applied_at=row.get("committed_at") or row.get("event_at"), success=success, state=state,
                 details=details(row, "change", "project", "script_hash", "note", "event", "event_at",
                                 "committer_name"))  # fmt: skip


LIQUIBASE_STATES = {"FAILED": FAILED, "SKIPPED": SKIPPED}


def _liquibase(row: dict, base: dict) -> HistoryEntry:
    exectype = text(row["exectype"]).upper()
    state = LIQUIBASE_STATES.get(exectype, APPLIED)
    return entry(base, f"{row['id']}::{row['author']}::{row['filename']}",
                 description=text(row.get("description") or row["id"]), applied_at=row.get("dateexecuted"),
                 success=state != FAILED, state=state,
                 details=details(row, "id", "author", "filename", "orderexecuted", "exectype", "md5sum", "comments",
                                 "tag", "liquibase", "deployment_id"))  # fmt: skip


def _pgroll(row: dict, base: dict) -> HistoryEntry:
    """Not done = started and not completed yet (the old and new schema versions both live)."""
    done = bool(row["done"])
    applied = row.get("updated_at") if done else row.get("created_at")
    return entry(base, row["name"], description=text(row["name"]), applied_at=applied or row.get("created_at"),
                 success=True if done else None, state=APPLIED if done else PENDING,
                 details=details(row, "schema", "parent", "created_at", "updated_at", "done",
                                 "migration_type"))  # fmt: skip


def _is_golang_migrate(found: Found) -> bool:
    return "dirty" in found.columns and found.columns.get("version") in ("bigint", "integer")


def _is_sqitch(found: Found) -> bool:
    return {"change_id", "change", "project", "committed_at"} <= found.columns.keys()


def _is_pgroll(found: Found) -> bool:
    return {"schema", "name", "migration", "done"} <= found.columns.keys()


SPECS: tuple[ToolSpec, ...] = (
    ToolSpec("django", "Django", "django_migrations", ("app", "name"), ("id", "applied"), ("applied", "id"), _django),
    ToolSpec("drizzle", "drizzle", "__drizzle_migrations", ("hash",), ("id", "created_at", "name", "applied_at"),
             ("id", "created_at"), _drizzle),
    ToolSpec("prisma", "Prisma", "_prisma_migrations", ("migration_name",),
             ("id", "checksum", "started_at", "finished_at", "rolled_back_at", "applied_steps_count", "logs"),
             ("started_at",), _prisma),
    ToolSpec("alembic", "Alembic", "alembic_version", ("version_num",), (), ("version_num",), _alembic),
    ToolSpec("flyway", "Flyway", "flyway_schema_history", ("installed_rank", "success"),
             ("version", "description", "type", "script", "checksum", "installed_by", "installed_on",
              "execution_time"), ("installed_rank",), _flyway),
    ToolSpec("atlas", "Atlas", "atlas_schema_revisions", ("version",),
             ("description", "type", "applied", "total", "executed_at", "execution_time", "error", "error_stmt",
              "hash", "operator_version"), ("executed_at", "version"), _atlas),
    ToolSpec("golang-migrate", "golang-migrate", "schema_migrations", ("version", "dirty"), (), ("version",),
             _golang_migrate, matches=_is_golang_migrate),
    ToolSpec("rails", "Rails", "schema_migrations", ("version",), (), ("version",), _rails,
             matches=lambda found: not _is_golang_migrate(found)),
    ToolSpec("sqitch", "Sqitch", "changes", ("change_id", "change", "project", "committed_at"),
             ("script_hash", "note", "committer_name"), (), _sqitch, matches=_is_sqitch),
    ToolSpec("liquibase", "Liquibase", "databasechangelog", ("id", "author", "filename", "exectype"),
             ("dateexecuted", "orderexecuted", "md5sum", "description", "comments", "tag", "liquibase",
              "deployment_id"), ("dateexecuted", "orderexecuted"), _liquibase),
    ToolSpec("pgroll", "pgroll", "migrations", ("schema", "name", "done"),
             ("parent", "created_at", "updated_at", "migration_type"), ("created_at",), _pgroll,
             matches=_is_pgroll),
)  # fmt: skip

TABLE_NAMES = tuple(sorted({spec.table for spec in SPECS} | {"events"}))
LABELS = {spec.tool: spec.label for spec in SPECS}


def identify(found: Found) -> ToolSpec | None:
    """The tool whose history table this relation is (in any schema), or None for an unrelated table."""
    for spec in SPECS:
        if spec.table == found.table and spec.matches(found):
            return spec
    return None


def sqitch_events(found: Found, everything: list[Found]) -> Found | None:
    """Sqitch's events table beside its changes table (same registry schema), when there is one."""
    for other in everything:
        if (
            other.schema == found.schema
            and other.table == "events"
            and {"event", "change_id", "committed_at"} <= other.columns.keys()
        ):
            return other
    return None
