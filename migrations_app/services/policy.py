"""Per-project migration policy, set by admins: approvals needed, the apply's timeouts, the size limit of
a rehearsal on plain Postgres, and the level of each squawk rule (blocks, warns, or is not run).

Saving re-lints nothing: stored revisions keep their findings, and the next revision is linted with the
new levels. Approvals, timeouts and the size limit are read when they are used (approve, apply, rehearse).
"""

from dataclasses import dataclass

from django.db import transaction

from dashboard.common import audit
from migrations_app.engine.lint import RulePolicy
from migrations_app.engine.squawk import KNOWN_RULES
from migrations_app.models import ProjectMigrationPolicy

BLOCK, WARN, OFF = "block", "warn", "off"
LEVELS = [(BLOCK, "blocks submission"), (WARN, "warns"), (OFF, "off (not run)")]
SQUAWK_RULES = sorted(KNOWN_RULES)
# The engine's own checks are the applier's safety rails, so their level is fixed.
OWN_RULES = [
    ("syntax-error", "always blocks: the script must parse before anything else is checked."),
    ("transaction-control", "always blocks: BEGIN/COMMIT/SAVEPOINT are the worker's, never the author's."),
    ("destructive", "always needs the author's acknowledgement and is shown in red to approvers."),
    ("non-transactional", "always shown: the statement runs on its own, as its own recorded step."),
]
MIB = 1024 * 1024


@dataclass(frozen=True)
class PolicyValues:
    approvals_required: int
    lock_timeout_ms: int
    statement_timeout_ms: int
    rehearsal_max_table_bytes: int
    levels: dict  # squawk rule -> BLOCK | WARN | OFF


def rule_level(policy: ProjectMigrationPolicy, rule: str) -> str:
    if rule in policy.blocking_rules:
        return BLOCK
    return OFF if rule in policy.disabled_rules else WARN


def current_values(policy: ProjectMigrationPolicy) -> PolicyValues:
    return PolicyValues(
        policy.approvals_required,
        policy.lock_timeout_ms,
        policy.statement_timeout_ms,
        policy.rehearsal_max_table_bytes,
        {rule: rule_level(policy, rule) for rule in SQUAWK_RULES},
    )


def save_policy(project, user, values: PolicyValues) -> list[str]:
    """Store `values` and audit which settings changed (names and new levels; returns the names)."""
    with transaction.atomic():
        policy = ProjectMigrationPolicy.for_project(project)
        policy = ProjectMigrationPolicy.objects.select_for_update().get(pk=policy.pk)
        before = current_values(policy)
        blocking = sorted(r for r, level in values.levels.items() if level == BLOCK)
        disabled = sorted(r for r, level in values.levels.items() if level == OFF)
        RulePolicy(blocking=frozenset(blocking), disabled=frozenset(disabled))  # the engine's own check
        policy.approvals_required = values.approvals_required
        policy.lock_timeout_ms = values.lock_timeout_ms
        policy.statement_timeout_ms = values.statement_timeout_ms
        policy.rehearsal_max_table_bytes = values.rehearsal_max_table_bytes
        policy.blocking_rules, policy.disabled_rules = blocking, disabled
        policy.save()
        changed = [
            name
            for name in (
                "approvals_required",
                "lock_timeout_ms",
                "statement_timeout_ms",
                "rehearsal_max_table_bytes",
            )
            if getattr(before, name) != getattr(values, name)
        ]
        rules = {r: level for r, level in values.levels.items() if before.levels.get(r) != level}
        audit.record(user, "migration.policy", project=project, obj=policy, changed=changed, rules=rules)
    return changed + sorted(rules)
