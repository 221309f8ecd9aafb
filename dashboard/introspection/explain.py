"""EXPLAIN of a stored statement text: only that text, one statement, parameters bound, always rolled back.

The text comes from pg_stat_statements (normalized, with $1 ... placeholders).
Users only supply parameter values, which travel as bound parameters, never
inside the SQL. EXPLAIN ANALYZE runs the statement, so it is limited to a
single plain SELECT (no data-modifying CTE), in a read-only transaction that is
rolled back, under a statement timeout. No Django here.
"""

from dataclasses import dataclass

import pglast
import psycopg
from pglast import ast
from pglast.visitors import Visitor
from psycopg import sql

EXPLAINABLE = (ast.SelectStmt, ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)


class ExplainRefused(Exception):
    """The statement or the parameters cannot be explained; `message` is safe to show."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Explainable:
    param_count: int
    is_select: bool


class _ParamCounter(Visitor):
    def __init__(self):
        super().__init__()
        self.highest = 0

    def visit_ParamRef(self, ancestors, node):  # noqa: N802 - pglast visitor naming
        self.highest = max(self.highest, node.number)


def _modifying_cte(node: ast.Node) -> bool:
    with_clause = getattr(node, "withClause", None)
    for cte in (with_clause.ctes if with_clause else None) or ():
        if not isinstance(cte.ctequery, ast.SelectStmt) or _modifying_cte(cte.ctequery):
            return True
    return False


def inspect_statement(text: str) -> Explainable:
    """Check the text is one explainable statement and count its $n parameters."""
    try:
        statements = pglast.parse_sql(text)
    except pglast.parser.ParseError as exc:
        raise ExplainRefused(f"The statement text cannot be parsed: {exc}") from None
    if len(statements) != 1:
        raise ExplainRefused("Only a single statement can be explained.")
    stmt = statements[0].stmt
    if not isinstance(stmt, EXPLAINABLE):
        raise ExplainRefused(f"{type(stmt).__name__} statements cannot be explained.")
    counter = _ParamCounter()
    counter(stmt)
    is_select = isinstance(stmt, ast.SelectStmt) and not stmt.lockingClause and not _modifying_cte(stmt)
    return Explainable(param_count=counter.highest, is_select=is_select)


def explain(
    conn: psycopg.Connection,
    text: str,
    params: list[str] | None,
    *,
    generic: bool = False,
    analyze: bool = False,
    timeout_ms: int = 5000,
) -> str:
    """The plan as text. `generic` needs Postgres 16+; `analyze` only for plain SELECTs."""
    info = inspect_statement(text)
    if analyze and not info.is_select:
        raise ExplainRefused("EXPLAIN ANALYZE runs the statement, so it is only allowed for a plain SELECT.")
    if generic and analyze:
        raise ExplainRefused("A generic plan cannot be analyzed; enter parameter values instead.")
    values = [] if generic else list(params or [])
    if not generic and len(values) != info.param_count:
        raise ExplainRefused(
            f"The statement has {info.param_count} parameter(s); {len(values)} value(s) given."
        )
    options = "GENERIC_PLAN" if generic else ("ANALYZE, BUFFERS" if analyze else "COSTS")
    query = sql.SQL("EXPLAIN ({options}) {statement}").format(
        options=sql.SQL(options), statement=sql.SQL(text)
    )
    with conn.transaction(force_rollback=True):
        cur = psycopg.RawCursor(conn)
        cur.execute("SET TRANSACTION READ ONLY")
        cur.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(int(timeout_ms))))
        cur.execute(query, values or None)
        return "\n".join(row[0] for row in cur.fetchall())
