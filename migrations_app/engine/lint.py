"""Lint of a migration script: squawk's findings plus our own, each beside the statement it concerns.

Our own findings:
- `syntax-error` (blocks): the script does not parse (line and column of the whole script);
- `transaction-control` (blocks): BEGIN/COMMIT/SAVEPOINT... written by the author;
- `non-transactional` (info): the statement runs on its own, outside any transaction;
- `destructive` (needs the author's acknowledgement): drops, type changes, TRUNCATE, DELETE without WHERE.

squawk's rules follow the project's RulePolicy: blocking rules block submission,
disabled rules are not run, all others warn. squawk assumes each file runs without
a transaction; the applier runs each step in one (recorded with it, resumable), so
`prefer-robust-stmts` is kept only for non-transactional statements, where a
half-done rerun is real.
"""

import bisect
from dataclasses import dataclass, field

from .fast import without_gc_pauses
from .parse import SqlSyntaxError, checksum
from .plan import Plan, Statement, build_plan
from .squawk import KNOWN_RULES, SquawkFinding, SquawkRun

# The applier sets both timeouts itself, so these are satisfied and off unless a project turns them on.
DEFAULT_DISABLED = frozenset(
    {"require-lock-timeout", "require-statement-timeout", "require-timeout-settings"}
)
OUR_RULES = frozenset({"syntax-error", "transaction-control", "non-transactional", "destructive"})


@dataclass(frozen=True)
class RulePolicy:
    """Per project: which squawk rules block submission and which are not run at all."""

    blocking: frozenset[str] = frozenset()
    disabled: frozenset[str] = DEFAULT_DISABLED

    def __post_init__(self):
        object.__setattr__(self, "blocking", frozenset(self.blocking))
        object.__setattr__(self, "disabled", frozenset(self.disabled))
        unknown = (self.blocking | self.disabled) - KNOWN_RULES
        if unknown:
            raise ValueError(f"Unknown squawk rule(s): {', '.join(sorted(unknown))}")
        both = self.blocking & self.disabled
        if both:
            raise ValueError(f"Rule(s) both blocking and disabled: {', '.join(sorted(both))}")


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str  # "error" (blocks), "warning" or "info"
    message: str
    help: str | None
    statement_index: int | None  # 0-based; None when it concerns the whole script
    line: int  # 1-based, in the whole script
    column: int  # 1-based, in characters
    source: str  # "squawk" or "ours"
    blocking: bool = False
    needs_acknowledgement: bool = False


@dataclass(frozen=True)
class LintResult:
    checksum: str
    findings: tuple[Finding, ...]
    plan: Plan | None  # None when the script does not parse
    syntax_error: SqlSyntaxError | None = field(default=None, compare=False)

    @property
    def blocked(self) -> bool:
        """True when a blocking finding is open: the revision cannot be submitted."""
        return any(f.blocking for f in self.findings)

    @property
    def needs_acknowledgement(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.needs_acknowledgement)

    def blocks_submission(self, *, acknowledged_destructive: bool) -> bool:
        return self.blocked or (bool(self.needs_acknowledgement) and not acknowledged_destructive)

    def for_statement(self, index: int) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.statement_index == index)


@without_gc_pauses
def lint_sql(sql: str, *, policy: RulePolicy | None = None, pg_major: int = 15) -> LintResult:
    """Split and lint `sql` for a target of Postgres `pg_major`.

    squawk starts first and works in its own process while we split, classify and check the script,
    so only reading its report and placing its findings on their statements come after it.
    """
    policy = policy or RulePolicy()
    squawk = SquawkRun(sql, pg_major=pg_major, excluded=policy.disabled)
    try:
        plan = build_plan(sql)
    except SqlSyntaxError as exc:
        squawk.result()  # wait for it; its opinion of a broken script adds nothing
        return LintResult(checksum(sql), (_syntax_finding(exc),), None, exc)
    except ValueError as exc:
        squawk.result()
        return LintResult(checksum(sql), (_script_finding("syntax-error", str(exc)),), None)
    ours = [
        finding
        for statement in plan.statements
        if statement.may_matter
        for finding in own_findings(statement)
    ]
    placer = SquawkPlacer(plan, policy)
    findings = sorted(ours + placer.place(squawk.result()), key=_finding_order)
    return LintResult(plan.checksum, tuple(findings), plan)


def own_findings(statement: Statement) -> list[Finding]:
    if not statement.may_matter:  # most statements of a long script: none of the three below
        return []
    findings = []

    def add(rule, level, message, help_text, **flags):
        findings.append(
            Finding(
                rule,
                level,
                message,
                help_text,
                statement.index,
                statement.line,
                statement.column,
                "ours",
                **flags,
            )
        )

    if statement.refused:
        add(
            "transaction-control",
            "error",
            statement.refused,
            "Remove it: consecutive statements already run in one transaction.",
            blocking=True,
        )
    if statement.non_transactional:
        add(
            "non-transactional",
            "info",
            f"Runs on its own, outside a transaction: {statement.non_transactional}.",
            "It is recorded as its own step; a failure leaves the steps before it applied.",
        )
    if statement.destructive:
        add(
            "destructive",
            "warning",
            f"Destructive: {statement.destructive}. Needs acknowledgement.",
            "The author must acknowledge this change before the migration can be submitted.",
            needs_acknowledgement=True,
        )
    return findings


class SquawkPlacer:
    """Places squawk's findings on the plan's statements, with the policy's level; built while squawk
    still runs, so only the placing itself waits for its report."""

    def __init__(self, plan: Plan, policy: RulePolicy):
        self.offsets = [s.offset for s in plan.statements]
        self.line_starts = plan.lines.starts
        self.sql_lines = None if plan.sql.isascii() else plan.sql.split("\n")  # bytes == characters if ASCII
        self.alone = {step.statements[0].index for step in plan.steps if not step.transactional}
        self.policy = policy

    def place(self, found: list[SquawkFinding]) -> list[Finding]:
        starts, offsets, alone, blocking_rules = (
            self.line_starts,
            self.offsets,
            self.alone,
            self.policy.blocking,
        )
        last_line = len(starts)
        bisect_right, new = bisect.bisect_right, object.__new__
        mapped = []
        for item in found:  # thousands in a long script: LineIndex.offset() and Finding(...) inline
            rule, squawk_line = item.rule, item.line
            line = squawk_line + 1
            column = (
                item.column + 1 if self.sql_lines is None else self._char_column(squawk_line, item.column)
            )
            offset = starts[min(max(line, 1), last_line) - 1] + max(column - 1, 0)
            position = bisect_right(offsets, offset) - 1
            index = position if position >= 0 else None
            if rule == "prefer-robust-stmts" and index is not None and position not in alone:
                continue  # a transactional step is all or nothing: a rerun is never half done
            if rule == "syntax-error":
                mapped.append(_squawk_syntax_finding(item, index, line, column))
                continue
            blocking = rule in blocking_rules
            finding = new(Finding)  # without the frozen __init__'s cost (see fast.frozen_instance)
            finding.__dict__.update(
                {
                    "rule": rule,
                    "level": "error" if blocking else "warning",
                    "message": item.message,
                    "help": item.help,
                    "statement_index": index,
                    "line": line,
                    "column": column,
                    "source": "squawk",
                    "blocking": blocking,
                    "needs_acknowledgement": False,
                }
            )
            mapped.append(finding)
        return mapped

    def _char_column(self, line_index: int, byte_column: int) -> int:
        sql_lines = self.sql_lines
        return _char_column(sql_lines[line_index] if line_index < len(sql_lines) else "", byte_column)


def _squawk_syntax_finding(item: SquawkFinding, index: int | None, line: int, column: int) -> Finding:
    # Postgres' own parser accepted the script; squawk's parser lags behind on some syntax.
    message = f"squawk could not check this statement: {item.message}"
    return Finding(item.rule, "warning", message, item.help, index, line, column, "squawk")


def _char_column(line_text: str, byte_column: int) -> int:
    """squawk counts UTF-8 bytes within the line; we count characters (1-based)."""
    if line_text.isascii():
        return byte_column + 1
    prefix = line_text.encode("utf-8")[:byte_column]
    return len(prefix.decode("utf-8", errors="ignore")) + 1


def _syntax_finding(exc: SqlSyntaxError) -> Finding:
    return Finding(
        "syntax-error",
        "error",
        f"Syntax error: {exc.message}",
        None,
        None,
        exc.line,
        exc.column,
        "ours",
        blocking=True,
    )


def _script_finding(rule: str, message: str) -> Finding:
    return Finding(rule, "error", message, None, None, 1, 1, "ours", blocking=True)


def _finding_order(finding: Finding) -> tuple:
    return (
        finding.statement_index if finding.statement_index is not None else -1,
        finding.line,
        finding.column,
    )
