"""Constants and small helpers shared by the stand-in modules."""

from datetime import UTC, datetime

API_PREFIX = "/api/v2"
DEFAULT_SUSPEND_TIMEOUT = 300


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("timestamp needs a time zone")
    return parsed


class APIError(Exception):
    def __init__(self, status: int, message: str, code: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def lsn_number(lsn: str) -> int:
    """A WAL position "X/Y" as one comparable number; ValueError when it is not one."""
    high, slash, low = str(lsn).partition("/")
    if not slash:
        raise ValueError(f"not an LSN: {lsn!r}")
    return (int(high, 16) << 32) + int(low, 16)
