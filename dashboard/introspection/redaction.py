"""Secrets in statement texts, hidden before the dashboard stores or shows a text. No Django.

pg_stat_statements replaces the constants of plannable statements with $n, but
keeps utility statements verbatim, so `ALTER ROLE app PASSWORD 'x'`,
`CREATE USER MAPPING ... OPTIONS (password 'x')` or a subscription's conninfo
arrive with their secret. `redact_secrets` masks them for everyone; literals
that remain are hidden from viewers by `activity.redact_literals` (one helper for
every page).

Where pglast parses the text, the secret options are found in the parse tree
(their position), and Postgres' own scanner finds the literal that follows. A
text pglast cannot parse (cut short, or newer syntax) is treated conservatively:
every literal after a secret-looking word is masked, and an unfinished literal
there is masked to the end.
"""

import re

import pglast
from pglast import parser as pg_parser
from pglast.visitors import Visitor

MASK = "'********'"
STRING_TOKENS = {"SCONST", "USCONST", "XCONST", "BCONST"}
# Option names (DefElem) that carry a secret, in role, server, user-mapping, wrapper and
# subscription statements; compared in lower case, also as a part of the name (sslpassword).
SECRET_WORDS = ("password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "access_key", "sslkey")
# A literal whose content looks like a conninfo or an assignment of a secret (dblink, subscriptions,
# DO blocks running ALTER ROLE ... PASSWORD).
SECRET_CONTENT = re.compile(r"(?i)(password|passwd|pwd|secret|token)\s*(=|'|\s)")
_ERROR_INDEX = re.compile(r"at index (\d+)")


def is_secret_name(name: str) -> bool:
    name = name.lower()
    return any(word in name for word in SECRET_WORDS)


class _SecretOptions(Visitor):
    """Positions of options that carry a secret (PASSWORD 'x', OPTIONS (password 'x'))."""

    def __init__(self):
        super().__init__()
        self.positions: list[int] = []

    def visit_DefElem(self, ancestors, node):  # noqa: N802 - pglast visitor naming
        if node.defname and is_secret_name(node.defname) and node.location is not None:
            self.positions.append(node.location)


def _scan(text: str) -> tuple[list, int]:
    """Tokens of the text and where scanning stopped (an unfinished literal: the rest is unsafe)."""
    try:
        return list(pg_parser.scan(text)), len(text)
    except pg_parser.ParseError as exc:
        match = _ERROR_INDEX.search(str(exc))
        stop = int(match.group(1)) if match else 0
        try:
            return list(pg_parser.scan(text[:stop])), stop
        except pg_parser.ParseError:
            return [], 0


def _secret_positions(text: str, tokens: list) -> list[int]:
    try:
        visitor = _SecretOptions()
        for statement in pglast.parse_sql(text):
            visitor(statement)
        return visitor.positions
    except pglast.parser.ParseError:
        # Conservative: any secret-looking word starts a secret.
        return [t.start for t in tokens if is_secret_name(text[t.start : t.end + 1])]


def _mentions_secret(text: str) -> bool:
    return bool(SECRET_CONTENT.search(text)) or is_secret_name(text)


def redact_secrets(text: str) -> str:
    """The text with passwords and other secrets replaced by '********' (unchanged when there are none)."""
    if not text or not _mentions_secret(text):
        return text  # the common case, cheaply
    tokens, stop = _scan(text)
    starts = sorted(_secret_positions(text, tokens))
    masked: set[int] = set()
    for start in starts:  # the first literal after each secret option
        literal = next((i for i, t in enumerate(tokens) if t.start > start and t.name in STRING_TOKENS), None)
        if literal is not None:
            masked.add(literal)
    for i, token in enumerate(tokens):
        if token.name in STRING_TOKENS and SECRET_CONTENT.search(text[token.start : token.end + 1]):
            masked.add(i)
    parts, position = [], 0
    for i in sorted(masked):
        parts.append(text[position : tokens[i].start])
        parts.append(MASK)
        position = tokens[i].end + 1
    parts.append(text[position:stop])
    if stop < len(text):  # an unfinished literal: a secret may be in it
        parts.append(MASK if starts or _mentions_secret(text[stop:]) else text[stop:])
    return "".join(parts)
