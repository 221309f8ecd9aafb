"""EXPLAIN of a stored statement text: only that text, one statement, parameters bound, always rolled back.

The text comes from pg_stat_statements (normalized, with $1 ... placeholders).
Users only supply parameter values, which travel as bound parameters, never
inside the SQL. EXPLAIN ANALYZE runs the statement, so it is limited to a
single plain SELECT (no data-modifying CTE), in a read-only transaction that is
rolled back, under a statement and a lock timeout. A SELECT can still act through
the functions it calls (ending sessions, taking advisory locks, changing
settings, reaching other servers), so ANALYZE is refused when the statement
calls any function on SIDE_EFFECT_FUNCTIONS. No Django here.
"""

from dataclasses import dataclass

import pglast
import psycopg
from pglast import ast
from pglast.visitors import Visitor
from psycopg import sql

from dashboard.targets.connect import TargetSettings, apply_local_timeouts

EXPLAINABLE = (ast.SelectStmt, ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)


class ExplainRefused(Exception):
    """The statement or the parameters cannot be explained; `message` is safe to show."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# Functions EXPLAIN ANALYZE must not run: each acts outside the rolled-back, read-only
# transaction (a read-only transaction refuses writes to tables, not these). Names are matched
# without schema, in lower case; entries ending in "*" match a prefix. A clear deny-list, one
# line per class, so the next engineer can see why a function is on it.
SIDE_EFFECT_FUNCTIONS = (
    # other sessions: terminating is admin-only on the activity page
    "pg_terminate_backend",
    "pg_cancel_backend",
    # locks that outlive the statement (session-level advisory locks)
    "pg_advisory_*",
    "pg_try_advisory_*",
    # settings and server control
    "set_config",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_switch_wal",
    "pg_create_restore_point",
    "pg_promote",
    "pg_log_backend_memory_contexts",
    "pg_stat_reset*",
    "pg_stat_statements_reset",
    # other servers and notifications
    "dblink*",
    "pg_notify",
    # large objects and server files
    "lo_*",
    "pg_file_*",
    # (pg_sleep is not listed: the EXPLAIN ANALYZE statement timeout cancels long sleeps)
    # transaction ids (assigning one burns an xid even when rolled back); nextval and setval
    # are not listed because the read-only transaction already refuses them
    "txid_current",
    "pg_current_xact_id",
    # replication slots and WAL messages
    "pg_create_*_replication_slot",
    "pg_drop_replication_slot",
    "pg_replication_slot_advance",
    "pg_logical_emit_message",
    "pg_copy_*_replication_slot",
    # functions that run SQL given as text (which could call any of the above)
    "query_to_xml*",
    "cursor_to_xml*",
)


def is_side_effect_function(name: str) -> bool:
    name = name.lower()
    for entry in SIDE_EFFECT_FUNCTIONS:
        if "*" in entry:
            head, _, tail = entry.partition("*")
            if name.startswith(head) and name.endswith(tail) and len(name) >= len(head) + len(tail):
                return True
        elif name == entry:
            return True
    return False


@dataclass(frozen=True)
class Explainable:
    param_count: int
    is_select: bool
    side_effect_functions: tuple[str, ...] = ()


class _StatementFacts(Visitor):
    """Highest $n parameter, and the called functions that have side effects."""

    def __init__(self):
        super().__init__()
        self.highest = 0
        self.side_effects: list[str] = []

    def visit_ParamRef(self, ancestors, node):  # noqa: N802 - pglast visitor naming
        self.highest = max(self.highest, node.number)

    def visit_FuncCall(self, ancestors, node):  # noqa: N802 - pglast visitor naming
        name = node.funcname[-1].sval if node.funcname else ""
        if is_side_effect_function(name) and name.lower() not in self.side_effects:
            self.side_effects.append(name.lower())


def _modifying_cte(node: ast.Node) -> bool:
    with_clause = getattr(node, "withClause", None)
    for cte in (with_clause.ctes if with_clause else None) or ():
        if not isinstance(cte.ctequery, ast.SelectStmt) or _modifying_cte(cte.ctequery):
            return True
    return False


def inspect_statement(text: str, max_chars: int | None = None) -> Explainable:
    """Check the text is one explainable statement and count its $n parameters.

    A text longer than `max_chars` is refused before it is parsed (parsing time and memory grow
    with the text, and pg_stat_statements keeps texts of any length).
    """
    if max_chars is not None and len(text) > max_chars:
        raise ExplainRefused(
            f"The statement text has {len(text):,} characters; texts over {max_chars:,} characters are "
            "not parsed here, so it cannot be explained from this page."
        )
    try:
        statements = pglast.parse_sql(text)
    except pglast.parser.ParseError as exc:
        raise ExplainRefused(f"The statement text cannot be parsed: {exc}") from None
    if len(statements) != 1:
        raise ExplainRefused("Only a single statement can be explained.")
    stmt = statements[0].stmt
    if not isinstance(stmt, EXPLAINABLE):
        raise ExplainRefused(f"{type(stmt).__name__} statements cannot be explained.")
    facts = _StatementFacts()
    facts(stmt)
    is_select = isinstance(stmt, ast.SelectStmt) and not stmt.lockingClause and not _modifying_cte(stmt)
    return Explainable(
        param_count=facts.highest, is_select=is_select, side_effect_functions=tuple(facts.side_effects)
    )


def analyze_refusal(info: Explainable) -> str:
    """Why EXPLAIN ANALYZE must not run this statement, or "" if it may."""
    if not info.is_select:
        return "EXPLAIN ANALYZE runs the statement, so it is only allowed for a plain SELECT."
    if info.side_effect_functions:
        names = ", ".join(f"{name}()" for name in info.side_effect_functions)
        return (
            f"EXPLAIN ANALYZE runs the statement, and it calls {names}, which acts outside the "
            "rolled-back transaction (sessions, locks, settings or other servers). Use a plain EXPLAIN."
        )
    return ""


def explain(
    conn: psycopg.Connection,
    text: str,
    params: list[str] | None,
    *,
    generic: bool = False,
    analyze: bool = False,
    timeout_ms: int = 5000,
    cfg: TargetSettings | None = None,
) -> str:
    """The plan as text. `generic` needs Postgres 16+; `analyze` only for plain SELECTs without side effects."""
    info = inspect_statement(text)
    if analyze and (refusal := analyze_refusal(info)):
        raise ExplainRefused(refusal)
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
        apply_local_timeouts(cur, cfg or TargetSettings(), statement_timeout_ms=timeout_ms)
        cur.execute(query, values or None)
        return "\n".join(row[0] for row in cur.fetchall())
