"""Small text helpers shared by the engine: the own-statement marker, identifier quoting, shortening."""

from dashboard.introspection.activity import redact_literals
from dashboard.targets.marker import mark

# Every statement the engine sends itself carries this marker (the collector recognises its own traffic).
WHAT = "migrations"


def own(statement: str) -> str:
    """The engine's own statement text, marked."""
    return mark(statement, WHAT)


def quote_ident(name: str) -> str:
    """An identifier quoted the way Postgres' quote_ident always accepts (quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def shorten(text: str, limit: int = 200) -> str:
    """One line of at most `limit` characters, literals redacted (secrets never leave the target)."""
    flat = " ".join(redact_literals(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
