"""Engine of reviewed migrations: parse, lint, rehearse and apply SQL on a target (plain Python, no Django).

The Django workflow (requests, revisions, approvals, Celery tasks, pages) sits on top of this API and
stores what it returns. Every function takes plain values and returns frozen dataclasses.

Parse and plan (`plan.py`, `parse.py`, `classify.py`)
    plan = build_plan(sql)          # raises SqlSyntaxError(message, line, column) or ValueError (empty)
    plan.checksum                   # sha256 of the exact text; approvals are pinned to it
    plan.statements[i]              # .text .line .column .kind .transactional .non_transactional (why)
                                    # .refused (BEGIN/COMMIT...) .destructive (what it destroys)
                                    # .relations (RelationName: schema or None, name) .concurrent_index
    plan.steps                      # Step(number, statements, transactional): consecutive transactional
                                    # statements form one step; each non-transactional one is its own
    plan.read_trees()               # parses, in one call, the statements lint did not need to look into:
                                    # first, before reading .kind or .relations of every statement

Lint (`lint.py`, `squawk.py`)
    result = lint_sql(sql, policy=RulePolicy(blocking={...}, disabled={...}), pg_major=16)
    result.findings                 # Finding(rule, level, message, help, statement_index, line, column,
                                    #         source "squawk"|"ours", blocking, needs_acknowledgement)
    result.blocked                  # a blocking finding is open (syntax error, BEGIN, a blocking rule)
    result.blocks_submission(acknowledged_destructive=...)
    result.plan                     # None when the SQL does not parse
    RulePolicy validates rule names against squawk 2.70.0's (squawk.KNOWN_RULES); the timeout rules are
    disabled by default because the applier sets both timeouts.

Apply (`apply/`, one module per part: session, recording, preflight, steps, statements, lock_retry,
       index_cleanup; their SQL in `history.py`, `locking.py`, `indexes.py`, `capture.py`)
    conn = dashboard.targets.connect.connect(direct_url, TargetSettings(...)).conn   # direct, autocommit
    result = apply_migration(conn, plan, migration_id="42", checksum=approved_checksum,
                             settings=ApplySettings(lock_timeout_ms=2000, ...),
                             on_progress=callback,          # Progress(event, message, step, ...)
                             should_cancel=callable,        # polled; cancels the running statement
                             capture_effects=False,         # True: locks and rewrites per statement
                             side_connect=None)             # () -> second connection, for sampling locks
                                                            #       of non-transactional statements
    result.status                   # "applied" | "failed" | "cancelled" | "busy" | "blocked"
    result.message, result.error    # ApplyError(statement_index, line, step, sqlstate, message)
    result.steps_applied, result.steps_already_applied, result.statements (StatementReport per statement:
    duration_ms, rows, attempts, locks, rewrites), result.blockers, result.lsn_before, result.notes
    ApplyRefused is raised, before anything is sent, for a checksum mismatch, refused statements, a
    non-autocommit connection or an empty migration id.
    Rerunning the same migration id with the same SQL resumes after the recorded steps.

History (`history.py`: schema `neon_ops`, tables `migrations` and `migration_steps` on the target)
    history = read_history(conn, migration_id, steps_total=len(plan.steps))
    history.state / history.describe()   # "applied", "partly applied (steps 1-3 of 5)", "not applied"
    current_lsn(conn)                    # pg_current_wal_lsn(), for restoring a Neon branch later

Rehearse (`rehearse.py`)
    decision = decide_rehearsal(plan, table_bytes, max_table_bytes=...)  # sizes keyed "schema.name",
                                    # from the schema snapshot or relation_sizes(conn, plan)
    rehearsal = rehearse_in_transaction(conn, plan, decision=decision, migration_id=...)
    rehearsal.ran, rehearsal.reason, rehearsal.result (an ApplyResult with capture on; all rolled back)
    On Neon, rehearse on a branch instead: apply_migration(branch_conn, plan, ..., capture_effects=True,
    side_connect=...) on the branch's direct URL, then delete the branch.

Every statement the engine sends itself starts with `/* neon-ops-dashboard migrations */`
(`sqltext.own`, see dashboard/targets/marker.py); the migration's own SQL is sent exactly as written.
"""

from .apply import (
    ApplyError,
    ApplyRefused,
    ApplyResult,
    ApplySettings,
    Progress,
    StatementReport,
    apply_migration,
    current_lsn,
)
from .history import History, read_history
from .lint import Finding, LintResult, RulePolicy, lint_sql
from .parse import SqlSyntaxError, checksum
from .plan import Plan, Statement, Step, build_plan
from .rehearse import Rehearsal, RehearsalDecision, decide_rehearsal, rehearse_in_transaction, relation_sizes

__all__ = [
    "ApplyError",
    "ApplyRefused",
    "ApplyResult",
    "ApplySettings",
    "Finding",
    "History",
    "LintResult",
    "Plan",
    "Progress",
    "Rehearsal",
    "RehearsalDecision",
    "RulePolicy",
    "SqlSyntaxError",
    "Statement",
    "StatementReport",
    "Step",
    "apply_migration",
    "build_plan",
    "checksum",
    "current_lsn",
    "decide_rehearsal",
    "lint_sql",
    "read_history",
    "rehearse_in_transaction",
    "relation_sizes",
]
