"""Splitting a migration script into statements with Postgres' own parser (pglast).

Each piece keeps its exact original text and where it starts in the whole script
(1-based line and column), so findings and errors point at what the author wrote.
A statement's parse tree is libpg_query's JSON form (plain dicts), read only when
asked: building pglast's Python node objects costs about 50 times more.
"""

import bisect
import hashlib
import json
from dataclasses import dataclass

from pglast import parser as pg_parser


class SqlSyntaxError(ValueError):
    """The script does not parse; `line` and `column` (1-based) locate the error in the whole script."""

    def __init__(self, message: str, line: int, column: int):
        super().__init__(f"{message} (line {line}, column {column})")
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Piece:
    """One statement as written: text without the trailing semicolon, its offset, line and column."""

    index: int
    text: str
    offset: int
    line: int
    column: int


def checksum(sql: str) -> str:
    """sha256 of the exact text: an approval belongs to these bytes and nothing else."""
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()


class LineIndex:
    """Offset -> (line, column), both 1-based, in O(log n) per lookup."""

    def __init__(self, text: str):
        self.starts = [0]
        position = text.find("\n")
        while position != -1:
            self.starts.append(position + 1)
            position = text.find("\n", position + 1)

    def locate(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def offset(self, line: int, column: int) -> int:
        """The offset of a 1-based line and column (clamped to the script)."""
        line = min(max(line, 1), len(self.starts))
        return self.starts[line - 1] + max(column - 1, 0)


def split_sql(sql: str, record: type = Piece, lines: LineIndex | None = None) -> list:
    """The statements of `sql`; raises SqlSyntaxError at the right place when it does not parse.

    `record`: the frozen dataclass each statement becomes (Piece; plan.Statement builds its own directly).
    `lines`: the script's LineIndex, when the caller keeps one.
    """
    lines = lines or LineIndex(sql)
    try:
        slices = pg_parser.split(sql, with_parser=True, only_slices=True)
    except pg_parser.ParseError as exc:
        # The error's location counts characters (pglast converts it).
        message, location = exc.args[0], exc.args[1] if len(exc.args) > 1 else 0
        line, column = lines.locate(min(max(location, 0), len(sql)))
        raise SqlSyntaxError(message, line, column) from None
    starts, new = lines.starts, object.__new__
    pieces = []
    for index, span in enumerate(slices):  # record(...) and lines.locate(), inline: once per statement
        offset = span.start
        line = bisect.bisect_right(starts, offset)
        piece = new(record)  # without the frozen __init__'s cost (see fast.frozen_instance)
        piece.__dict__.update(
            index=index, text=sql[span], offset=offset, line=line, column=offset - starts[line - 1] + 1
        )
        pieces.append(piece)
    return pieces


def parse_tree(text: str) -> tuple[str, dict]:
    """(node name, fields) of one statement, as libpg_query's JSON has them, e.g. ("IndexStmt", {...})."""
    return parse_trees([text])[0]


def parse_trees(texts: list[str]) -> list[tuple[str, dict]]:
    """parse_tree of many statements in one call to the parser (cheaper than one call each).

    The statements are joined with a newline before each semicolon, so a trailing line comment
    cannot swallow it.
    """
    raw_statements = json.loads(pg_parser.parse_sql_json("\n;\n".join(texts)))["stmts"]
    if len(raw_statements) != len(texts):
        raise ValueError("the statements did not parse back one by one")
    trees = []
    for raw in raw_statements:
        ((kind, tree),) = raw["stmt"].items()
        trees.append((kind, tree))
    return trees
