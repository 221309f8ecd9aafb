"""Splitting a migration script into statements with Postgres' own parser (pglast).

Each piece keeps its exact original text and where it starts in the whole script
(1-based line and column), so findings and errors point at what the author wrote.
"""

import bisect
import hashlib
from dataclasses import dataclass, field

from pglast import ast, parse_sql
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
    node: ast.Node = field(repr=False, compare=False)


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


def split_sql(sql: str) -> list[Piece]:
    """The statements of `sql`; raises SqlSyntaxError at the right place when it does not parse."""
    lines = LineIndex(sql)
    try:
        raw_statements = parse_sql(sql)
    except pg_parser.ParseError as exc:
        message, location = exc.args[0], exc.args[1] if len(exc.args) > 1 else 0
        line, column = lines.locate(min(max(location, 0), len(sql)))
        raise SqlSyntaxError(message, line, column) from None
    pieces = []
    for raw in raw_statements:
        start = raw.stmt_location
        # pglast gives character offsets; stmt_len 0 means "up to the end of the script".
        end = start + raw.stmt_len if raw.stmt_len else len(sql)
        text = sql[start:end].rstrip()
        line, column = lines.locate(start)
        pieces.append(Piece(len(pieces), text, start, line, column, raw.stmt))
    return pieces
