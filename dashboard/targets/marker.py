"""The comment that marks the dashboard's own statements on a target (no Django).

The statement collector tells the dashboard's traffic from the user's by this comment (together
with the role that ran it, see introspection/statements.py). pg_stat_statements keeps comments
inside a statement's text, but Postgres 18 stores the text from the first keyword on, dropping a
comment that stands before it. So the marker goes right after the first keyword
(`SELECT /* neon-ops-dashboard schema */ ...`), where Postgres 14-18 all keep it.
"""

import re

PREFIX = "neon-ops-dashboard"
_FIRST_WORD = re.compile(r"\s*[A-Za-z]+")
# Texts stored before the marker moved after the first keyword still start with it: accept both.
_MARKED = re.compile(r"\s*(?:[A-Za-z]+\s+)?/\* neon-ops-dashboard [a-z][a-z-]* \*/")


def comment(what: str) -> str:
    return f"/* {PREFIX} {what} */"


def mark(statement: str, what: str) -> str:
    """`statement` with the marker of `what` (schema, health, migrations, ...) after its first keyword."""
    first = _FIRST_WORD.match(statement)
    if first is None:
        return f"{comment(what)} {statement}"
    return f"{statement[: first.end()]} {comment(what)}{statement[first.end() :]}"


def is_marked(text: str) -> bool:
    """True when `text` carries the exact marker the dashboard writes, where it writes it."""
    return bool(_MARKED.match(text))
