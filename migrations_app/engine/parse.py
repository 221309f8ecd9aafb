"""Splitting a migration script into statements with Postgres' own parser (pglast).

Each piece keeps its exact original text and where it starts in the whole script
(1-based line and column), so findings and errors point at what the author wrote.
The parse tree is libpg_query's JSON form (plain dicts): building pglast's Python
node objects costs about 50 times more on long scripts.
"""

import bisect
import hashlib
import json
from dataclasses import dataclass, field

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
    """One statement as written: text without the trailing semicolon, its offset, line and column.

    `kind` is the parse node's name (e.g. "IndexStmt") and `tree` its fields, as libpg_query's JSON has them.
    """

    index: int
    text: str
    offset: int
    line: int
    column: int
    kind: str
    tree: dict = field(repr=False, compare=False)


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
        parsed = json.loads(pg_parser.parse_sql_json(sql))
    except pg_parser.ParseError as exc:
        # The error's location counts characters (pglast converts it).
        message, location = exc.args[0], exc.args[1] if len(exc.args) > 1 else 0
        line, column = lines.locate(min(max(location, 0), len(sql)))
        raise SqlSyntaxError(message, line, column) from None
    raw_statements = parsed.get("stmts", [])
    encoded = sql.encode("utf-8")
    spans = []
    for raw in raw_statements:
        # Byte offsets; a missing field is 0, and a length of 0 means "up to the end of the script".
        start = raw.get("stmt_location", 0)
        spans.append((start, start + raw["stmt_len"] if raw.get("stmt_len") else len(encoded)))
    to_char = _char_offsets(sql, encoded, [offset for span in spans for offset in span])
    pieces = []
    for raw, (start_byte, end_byte) in zip(raw_statements, spans, strict=True):
        start, end = to_char[start_byte], to_char[end_byte]
        line, column = lines.locate(start)
        ((kind, tree),) = raw["stmt"].items()
        pieces.append(Piece(len(pieces), sql[start:end].rstrip(), start, line, column, kind, tree))
    return pieces


def _char_offsets(sql: str, encoded: bytes, byte_offsets: list[int]) -> dict[int, int]:
    """Byte offset -> character offset, for the few offsets asked (one pass over the script)."""
    if len(encoded) == len(sql):
        return {offset: offset for offset in byte_offsets}
    result, previous_byte, previous_char = {}, 0, 0
    for offset in sorted(set(byte_offsets)):
        previous_char += len(encoded[previous_byte:offset].decode("utf-8"))
        previous_byte = offset
        result[offset] = previous_char
    return result
