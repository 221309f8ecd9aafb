"""Invalid-index cleanup around a CREATE INDEX CONCURRENTLY (the SQL is in indexes.py).

A failed concurrent build leaves an INVALID index, which `IF NOT EXISTS` then silently accepts: one
of the same name left by an earlier failed build is dropped before the build runs, and one left by
this build's failure is dropped right after it (or, if that fails, by the next apply).
"""

import psycopg

from .. import indexes
from ..plan import Statement
from .progress import INVALID_INDEX_DROPPED
from .run_context import RunContext


def drop_leftovers_before(run: RunContext, statement: Statement) -> set[tuple[str, str]]:
    """Drop the invalid indexes the build would collide with; returns the other invalid ones there."""
    index = statement.concurrent_index
    if index is None:
        return set()
    invalid = indexes.invalid_indexes(run.cur, index)
    for schema, name in indexes.leftovers_of(index, invalid):
        _drop(run, schema, name, "left by an earlier failed build")
        invalid.discard((schema, name))
    return invalid


def drop_new_after_failure(run: RunContext, statement: Statement, before: set[tuple[str, str]]) -> None:
    """Drop the invalid indexes the failed build left (those not in `before`), or note why it could not."""
    index = statement.concurrent_index
    if index is None:
        return
    try:
        for schema, name in sorted(indexes.invalid_indexes(run.cur, index) - before):
            _drop(run, schema, name, "left by this failed build")
    except psycopg.Error as exc:
        run.state.notes.append(
            f"Could not drop the invalid index left by statement {statement.number} "
            f"({exc.diag.message_primary or exc}); the next apply drops it before retrying."
        )


def _drop(run: RunContext, schema: str, name: str, why: str) -> None:
    indexes.drop_index_concurrently(run.cur, schema, name)
    note = f"Dropped invalid index {schema}.{name} ({why})."
    run.state.notes.append(note)
    run.progress(INVALID_INDEX_DROPPED, note)
