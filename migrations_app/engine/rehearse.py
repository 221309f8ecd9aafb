"""Rehearsals on plain Postgres: the real apply inside a transaction that is always rolled back.

A rehearsal on production holds every lock it takes until the rollback, so it only
runs when every statement is transactional and every table it touches is below a
size limit (a big table would be rewritten or locked for long). Otherwise the
decision says why no rehearsal runs.

On Neon the caller rehearses on a branch instead: create a branch of the target,
`apply_migration(branch_conn, plan, ..., capture_effects=True, side_connect=...)`
over the branch's direct URL, then delete the branch.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import psycopg

from .apply import ApplyResult, ApplySettings, Progress, apply_migration
from .classify import RelationName
from .plan import Plan
from .sqltext import own

SIZES_SQL = own(
    """SELECT r.name, pg_total_relation_size(c.oid)
FROM unnest(%s::text[]) AS r(name) JOIN pg_class c ON c.oid = to_regclass(r.name)"""
)


@dataclass(frozen=True)
class RehearsalDecision:
    allowed: bool
    reason: str


@dataclass(frozen=True)
class Rehearsal:
    ran: bool
    reason: str  # why it did not run, or "" when it ran
    result: ApplyResult | None = None


def decide_rehearsal(
    plan: Plan,
    table_bytes: Mapping[str, int],
    *,
    max_table_bytes: int,
    default_schema: str = "public",
) -> RehearsalDecision:
    """May `plan` be rehearsed in a rolled-back transaction on the target itself?

    table_bytes: total size per relation, keyed "schema.name" (e.g. from the schema snapshot, or
    `relation_sizes`); relations the plan creates itself need no size.
    """
    for statement in plan.statements:
        if not statement.transactional:
            return RehearsalDecision(
                False,
                f"Statement {statement.number} (line {statement.line}) cannot run inside a transaction "
                f"({statement.non_transactional}), so it cannot be rehearsed in a rolled-back transaction.",
            )
        if statement.refused:
            return RehearsalDecision(False, f"Statement {statement.number}: {statement.refused}.")
    for relation in plan.relations:
        key = size_key(relation, default_schema)
        size = table_bytes.get(key)
        if size is None:
            return RehearsalDecision(
                False, f"The size of {key} is not known, so a rehearsal could hold it too long."
            )
        if size > max_table_bytes:
            return RehearsalDecision(
                False,
                f"{key} is {_megabytes(size)}, above the rehearsal limit of {_megabytes(max_table_bytes)}: "
                "a rehearsal on the live database could rewrite it or hold its locks for long.",
            )
    return RehearsalDecision(True, "")


def size_key(relation: RelationName, default_schema: str = "public") -> str:
    """ "schema.name"; an unqualified name counts as in `default_schema`."""
    return relation.display if relation.schema else f"{default_schema}.{relation.name}"


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB"


def relation_sizes(conn: psycopg.Connection, plan: Plan, default_schema: str = "public") -> dict[str, int]:
    """Live total sizes of the relations the plan names, keyed as `decide_rehearsal` looks them up."""
    rows = conn.execute(SIZES_SQL, ([r.sql for r in plan.relations],)).fetchall()
    by_sql = {sql_name: size for sql_name, size in rows}
    return {size_key(r, default_schema): by_sql[r.sql] for r in plan.relations if r.sql in by_sql}


def rehearse_in_transaction(
    conn: psycopg.Connection,
    plan: Plan,
    *,
    decision: RehearsalDecision,
    migration_id: str,
    settings: ApplySettings | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> Rehearsal:
    """Run the real apply with capture on inside BEGIN ... ROLLBACK: nothing remains, not even history."""
    if not decision.allowed:
        return Rehearsal(False, decision.reason)
    conn.execute(own("BEGIN"))
    try:
        result = apply_migration(
            conn,
            plan,
            migration_id=migration_id,
            checksum=plan.checksum,
            settings=settings,
            capture_effects=True,
            on_progress=on_progress,
            should_cancel=should_cancel,
        )
    finally:
        conn.execute(own("ROLLBACK"))
    return Rehearsal(True, "", result)
