"""EXPLAIN of a stored statement text: only that text, one statement, parameters bound, always rolled back.

The text comes from pg_stat_statements (normalized, with $1 ... placeholders).
Users only supply parameter values, which travel as bound parameters, never
inside the SQL. EXPLAIN ANALYZE runs the statement, so it is limited to a
single plain SELECT (no data-modifying CTE), in a read-only transaction that is
rolled back, under a statement and a lock timeout. A SELECT can still act through
the functions it calls (ending sessions, taking advisory locks, changing
settings, reaching other servers), so ANALYZE is refused unless every function the
statement reaches is immutable or stable (pg_proc.provolatile): the functions it
names, the functions behind its operators and casts, those its plan shows, and
those the views, row-level security policies (and, for INSERT, column defaults)
of the relations it reads refer to, found through pg_depend, views of views
included. The quick name check (SIDE_EFFECT_FUNCTIONS) refuses the known ones
before connecting. No Django here.
"""

import json
import re
from dataclasses import dataclass, field

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


QualifiedName = tuple[str | None, str]  # (schema or None for the search path, name)


@dataclass(frozen=True)
class Explainable:
    param_count: int
    is_select: bool
    side_effect_functions: tuple[str, ...] = ()
    # What the statement names, for the volatility check (see volatile_functions).
    functions: frozenset[QualifiedName] = frozenset()
    operators: frozenset[QualifiedName] = frozenset()
    relations: frozenset[QualifiedName] = frozenset()
    insert_targets: frozenset[QualifiedName] = frozenset()
    types: frozenset[str] = frozenset()


def _qualified(names) -> QualifiedName:
    parts = [n.sval for n in names or () if isinstance(n, ast.String)]
    if not parts:
        return (None, "")
    return (parts[-2] if len(parts) > 1 else None, parts[-1])


class _StatementFacts(Visitor):
    """Highest $n parameter, the called functions that have side effects, and the functions,
    operators, relations and types the statement names."""

    def __init__(self):
        super().__init__()
        self.highest = 0
        self.side_effects: list[str] = []
        self.functions: set[QualifiedName] = set()
        self.operators: set[QualifiedName] = set()
        self.relations: set[QualifiedName] = set()
        self.insert_targets: set[QualifiedName] = set()
        self.types: set[str] = set()

    def visit_ParamRef(self, ancestors, node):  # noqa: N802 - pglast visitor naming
        self.highest = max(self.highest, node.number)

    def visit_FuncCall(self, ancestors, node):  # noqa: N802 - pglast visitor naming
        name = node.funcname[-1].sval if node.funcname else ""
        self.functions.add(_qualified(node.funcname))
        if is_side_effect_function(name) and name.lower() not in self.side_effects:
            self.side_effects.append(name.lower())

    def visit_A_Expr(self, ancestors, node):  # noqa: N802 - pglast visitor naming
        self.operators.add(_qualified(node.name))

    def visit_RangeVar(self, ancestors, node):  # noqa: N802 - pglast visitor naming
        self.relations.add((node.schemaname, node.relname))

    def visit_InsertStmt(self, ancestors, node):  # noqa: N802 - pglast visitor naming
        self.insert_targets.add((node.relation.schemaname, node.relation.relname))

    def visit_TypeCast(self, ancestors, node):  # noqa: N802 - pglast visitor naming
        names = [n.sval for n in node.typeName.names or () if isinstance(n, ast.String)]
        if names:
            self.types.add(".".join(names))


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
        param_count=facts.highest,
        is_select=is_select,
        side_effect_functions=tuple(facts.side_effects),
        functions=frozenset(facts.functions),
        operators=frozenset(facts.operators),
        relations=frozenset(facts.relations),
        insert_targets=frozenset(facts.insert_targets),
        types=frozenset(facts.types),
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
    if not generic:
        check_param_count(info, values)
    options = "GENERIC_PLAN" if generic else ("ANALYZE, BUFFERS" if analyze else "COSTS")
    with conn.transaction(force_rollback=True):
        cur = psycopg.RawCursor(conn)
        cur.execute("SET TRANSACTION READ ONLY")
        apply_local_timeouts(cur, cfg or TargetSettings(), statement_timeout_ms=timeout_ms)
        if analyze:  # plan first, without running anything, and look at every function it reaches
            cur.execute(_explain_sql("VERBOSE, FORMAT JSON", text), values or None)
            volatile = volatile_functions(conn.cursor(), info, plan_names(cur.fetchone()[0]))
            if volatile:
                raise ExplainRefused(volatile_refusal(volatile))
        cur.execute(_explain_sql(options, text), values or None)
        return "\n".join(row[0] for row in cur.fetchall())


def check_param_count(info: Explainable, values: list[str]) -> None:
    """Refuse unless there is exactly one value per $n parameter."""
    if len(values) != info.param_count:
        raise ExplainRefused(
            f"The statement has {info.param_count} parameter(s); {len(values)} value(s) given."
        )


def _explain_sql(options: str, text: str) -> sql.Composed:
    return sql.SQL("EXPLAIN /* neon-ops-dashboard explain */ ({options}) {statement}").format(
        options=sql.SQL(options), statement=sql.SQL(text)
    )


def volatile_refusal(names: list[str]) -> str:
    listed = ", ".join(f"{name}()" for name in names)
    return (
        f"EXPLAIN ANALYZE runs the statement, and it reaches {listed}, which "
        f"{'is' if len(names) == 1 else 'are'} volatile (may act outside the rolled-back transaction: "
        "locks, sessions, other servers). Only statements whose functions are all immutable or stable "
        "are analyzed. Use a plain EXPLAIN."
    )


@dataclass
class PlanNames:
    """Functions, operators and relations a VERBOSE plan shows (expressions are deparsed there)."""

    functions: set[QualifiedName] = field(default_factory=set)
    operators: set[QualifiedName] = field(default_factory=set)
    relations: set[QualifiedName] = field(default_factory=set)


_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_CALL = re.compile(rf"(?:({_IDENT})\.)?({_IDENT})\s*\(")
_OPERATOR = re.compile(r"OPERATOR\((?:(\w+)\.)?([^)\s]+)\)|(?<=\s)([-+*/<>=~!@#%^&|`?]+)(?=\s)")


def _unquote(ident: str | None) -> str | None:
    if ident is None:
        return None
    return ident[1:-1].replace('""', '"') if ident.startswith('"') else ident.lower()


def plan_names(plan) -> PlanNames:
    """Walk EXPLAIN (VERBOSE, FORMAT JSON): relation names, and calls and operators in expressions."""
    found = PlanNames()
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def walk(node):
        if isinstance(node, dict):
            if "Relation Name" in node:
                found.relations.add((node.get("Schema"), node["Relation Name"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            for schema, name in _CALL.findall(node):
                found.functions.add((_unquote(schema or None), _unquote(name)))
            for schema, name, bare in _OPERATOR.findall(node):
                found.operators.add((schema or None, name or bare))

    walk(plan)
    return found


# One catalog query: every function the statement can reach and is volatile. Relations reached are
# those named (in the text or the plan) and, recursively, those their views' rules and row-level
# security policies refer to; functions are those named (every overload, whatever the argument
# types), the functions behind operators named or used by those rules and policies, cast functions
# to the types named, and the functions the rules, policies and (for INSERT targets) column
# defaults refer to.
VOLATILE_SQL = """WITH /* neon-ops-dashboard explain */ RECURSIVE
named_rels(oid) AS (
  SELECT to_regclass(CASE WHEN s IS NULL THEN format('%%I', n) ELSE format('%%I.%%I', s, n) END)
  FROM unnest(%(rel_schemas)s::text[], %(rel_names)s::text[]) AS r(s, n)
),
owned(rel, classid, objid) AS (
  SELECT ev_class, 'pg_rewrite'::regclass, oid FROM pg_rewrite
  UNION ALL SELECT polrelid, 'pg_policy'::regclass, oid FROM pg_policy
  UNION ALL SELECT adrelid, 'pg_attrdef'::regclass, oid FROM pg_attrdef
    WHERE adrelid = ANY (ARRAY(SELECT to_regclass(CASE WHEN s IS NULL THEN format('%%I', n)
                                                       ELSE format('%%I.%%I', s, n) END)
                               FROM unnest(%(ins_schemas)s::text[], %(ins_names)s::text[]) AS t(s, n)))
),
refs(rel, refclassid, refobjid) AS (
  SELECT o.rel, d.refclassid, d.refobjid FROM owned o
  JOIN pg_depend d ON d.classid = o.classid AND d.objid = o.objid
),
reached(oid) AS (
  SELECT oid FROM named_rels WHERE oid IS NOT NULL
  UNION
  SELECT r.refobjid FROM reached JOIN refs r ON r.rel = reached.oid AND r.refclassid = 'pg_class'::regclass
),
operators(oid) AS (
  SELECT o.oid FROM pg_operator o JOIN pg_namespace ns ON ns.oid = o.oprnamespace
  JOIN unnest(%(op_schemas)s::text[], %(op_names)s::text[]) AS x(s, n)
    ON o.oprname = x.n AND (ns.nspname = x.s OR (x.s IS NULL AND ns.nspname = ANY (current_schemas(true))))
  UNION SELECT r.refobjid FROM reached JOIN refs r ON r.rel = reached.oid AND r.refclassid = 'pg_operator'::regclass
),
functions(oid) AS (
  SELECT p.oid FROM pg_proc p JOIN pg_namespace ns ON ns.oid = p.pronamespace
  JOIN unnest(%(fn_schemas)s::text[], %(fn_names)s::text[]) AS x(s, n)
    ON p.proname = x.n AND (ns.nspname = x.s OR (x.s IS NULL AND ns.nspname = ANY (current_schemas(true))))
  UNION SELECT oprcode::oid FROM pg_operator WHERE oid IN (SELECT oid FROM operators)
  UNION SELECT r.refobjid FROM reached JOIN refs r ON r.rel = reached.oid AND r.refclassid = 'pg_proc'::regclass
  UNION SELECT c.castfunc FROM pg_cast c
    WHERE c.castfunc <> 0 AND c.casttarget IN (SELECT to_regtype(t) FROM unnest(%(types)s::text[]) AS t)
)
SELECT DISTINCT format('%%I.%%I', ns.nspname, p.proname)
FROM functions f JOIN pg_proc p ON p.oid = f.oid JOIN pg_namespace ns ON ns.oid = p.pronamespace
WHERE p.provolatile = 'v'
ORDER BY 1
"""


def _split(names) -> tuple[list, list]:
    names = sorted({(s, n) for s, n in names if n}, key=lambda x: (x[0] or "", x[1]))
    return [s for s, _ in names], [n for _, n in names]


def volatile_functions(cur: psycopg.Cursor, info: Explainable, plan: PlanNames) -> list[str]:
    """Qualified names of the volatile functions the statement reaches (empty: ANALYZE may run)."""
    rel_schemas, rel_names = _split(info.relations | plan.relations)
    ins_schemas, ins_names = _split(info.insert_targets)
    op_schemas, op_names = _split(info.operators | plan.operators)
    fn_schemas, fn_names = _split(info.functions | plan.functions)
    cur.execute(
        VOLATILE_SQL,
        {
            "rel_schemas": rel_schemas,
            "rel_names": rel_names,
            "ins_schemas": ins_schemas,
            "ins_names": ins_names,
            "op_schemas": op_schemas,
            "op_names": op_names,
            "fn_schemas": fn_schemas,
            "fn_names": fn_names,
            "types": sorted(info.types),
        },
    )
    return [row[0] for row in cur.fetchall()]
