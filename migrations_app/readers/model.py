"""What one read of the migration history tables holds: dataclasses that round-trip through JSON.

Names and texts are kept exactly as the target returned them (they may hold quotes,
markup or unicode); escaping is the job of whoever renders them.
"""

from dataclasses import dataclass, field
from datetime import datetime

FORMAT_VERSION = 1

# Entry states. "applied" and "failed" are common to all tools; the others say what a tool records.
APPLIED = "applied"
FAILED = "failed"
ROLLED_BACK = "rolled back"
DIRTY = "dirty"
PARTIAL = "partial"
PENDING = "pending"  # started and not finished yet (pgroll's migration before `complete`)
SKIPPED = "skipped"
PROBLEM_STATES = (FAILED, DIRTY, PARTIAL)


def _time_to_json(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time_from_json(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class HistoryEntry:
    """One migration as a tool recorded it.

    `key` identifies the migration within its tool (version, name or id) and is what branch
    comparisons match on. `applied_at` is an apply time only when `time_is_apply_time` is
    true: drizzle's created_at is the migration file's own time, Alembic and Rails keep none.
    """

    tool: str
    schema: str
    table: str
    key: str
    description: str = ""
    applied_at: datetime | None = None
    time_is_apply_time: bool = True
    success: bool | None = True
    state: str = APPLIED
    details: dict = field(default_factory=dict)

    @property
    def has_apply_time(self) -> bool:
        return self.applied_at is not None and self.time_is_apply_time

    def to_dict(self) -> dict:
        return {
            "tool": self.tool,
            "schema": self.schema,
            "table": self.table,
            "key": self.key,
            "description": self.description,
            "applied_at": _time_to_json(self.applied_at),
            "time_is_apply_time": self.time_is_apply_time,
            "success": self.success,
            "state": self.state,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "HistoryEntry":
        return cls(
            **{
                **data,
                "applied_at": _time_from_json(data.get("applied_at")),
                "details": dict(data["details"]),
            }
        )


@dataclass
class ToolHistory:
    """The entries read from one tool's table, newest first.

    `truncated` is true when the table held more rows than the read's limit; `problem` says
    why a found table could not be used (e.g. a required column is missing), else "".
    """

    tool: str
    schema: str
    table: str
    entries: list[HistoryEntry] = field(default_factory=list)
    truncated: bool = False
    problem: str = ""

    def to_dict(self) -> dict:
        return {
            "tool": self.tool,
            "schema": self.schema,
            "table": self.table,
            "entries": [entry.to_dict() for entry in self.entries],
            "truncated": self.truncated,
            "problem": self.problem,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ToolHistory":
        entries = [HistoryEntry.from_dict(entry) for entry in data["entries"]]
        return cls(**{**data, "entries": entries})


@dataclass
class Unreadable:
    """A history table that exists but could not be read (permission denied, busy, timed out)."""

    tool: str
    schema: str
    table: str
    reason: str
    code: str = "error"  # TargetError codes: "permission", "busy", "timeout", "error"

    def to_dict(self) -> dict:
        return {"tool": self.tool, "schema": self.schema, "table": self.table, "reason": self.reason,
                "code": self.code}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> "Unreadable":
        return cls(**data)


@dataclass
class HistoryRead:
    """Everything one read_history() call found. `read_at` is the target server's clock."""

    tools: list[ToolHistory] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    read_at: datetime | None = None

    def entries(self) -> list[HistoryEntry]:
        return [entry for history in self.tools for entry in history.entries]

    def tool(self, name: str) -> list[ToolHistory]:
        return [history for history in self.tools if history.tool == name]

    def to_dict(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "read_at": _time_to_json(self.read_at),
            "tools": [history.to_dict() for history in self.tools],
            "unreadable": [item.to_dict() for item in self.unreadable],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "HistoryRead":
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"Unknown history read format {data.get('format')!r} (expected {FORMAT_VERSION})."
            )
        return cls(
            tools=[ToolHistory.from_dict(history) for history in data["tools"]],
            unreadable=[Unreadable.from_dict(item) for item in data["unreadable"]],
            read_at=_time_from_json(data["read_at"]),
        )
