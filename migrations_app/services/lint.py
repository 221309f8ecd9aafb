"""Lint a revision's SQL with the engine and turn the result into the JSON a Revision stores."""

from dataclasses import dataclass

from migrations_app.engine.lint import LintResult, RulePolicy, lint_sql, own_findings
from migrations_app.engine.parse import SqlSyntaxError, checksum
from migrations_app.engine.plan import build_plan
from migrations_app.engine.squawk import SquawkError
from migrations_app.models import ProjectMigrationPolicy

DEFAULT_PG_MAJOR = 15


@dataclass
class LintOutcome:
    result: LintResult | None
    error: str = ""  # squawk could not run: our own checks still stand

    @property
    def syntax_error(self):
        return self.result.syntax_error if self.result else None


def rule_policy(policy: ProjectMigrationPolicy) -> RulePolicy:
    return RulePolicy(blocking=frozenset(policy.blocking_rules), disabled=frozenset(policy.disabled_rules))


def target_pg_major(project) -> int:
    """The target's major version from its last connection check (squawk's --pg-version)."""
    number = (project.check_result or {}).get("server_version_num")
    return int(number) // 10000 if isinstance(number, int) and number >= 100000 else DEFAULT_PG_MAJOR


def lint(project, sql: str) -> LintOutcome:
    policy = ProjectMigrationPolicy.for_project(project)
    try:
        return LintOutcome(lint_sql(sql, policy=rule_policy(policy), pg_major=target_pg_major(project)))
    except SquawkError as exc:
        return LintOutcome(_own_checks_only(sql), error=f"{exc} Only our own checks ran.")


def _own_checks_only(sql: str) -> LintResult:
    """Lint without squawk (it could not run): parse errors, refused and destructive statements still count."""
    try:
        plan = build_plan(sql)
    except ValueError as exc:  # SqlSyntaxError included; an empty script too
        return LintResult(checksum(sql), (), None, exc if isinstance(exc, SqlSyntaxError) else None)
    findings = tuple(f for statement in plan.statements for f in own_findings(statement))
    return LintResult(plan.checksum, findings, plan)


def statements_json(result: LintResult) -> list[dict]:
    result.plan.read_trees()  # kind and relations of every statement, from one parser call
    return [
        {
            "index": s.index,
            "number": s.number,
            "text": s.text,
            "line": s.line,
            "column": s.column,
            "kind": s.kind,
            "transactional": s.transactional,
            "non_transactional": s.non_transactional or "",
            "refused": s.refused or "",
            "destructive": s.destructive or "",
            "relations": [r.display for r in s.relations],
        }
        for s in result.plan.statements
    ]


def steps_json(result: LintResult) -> list[dict]:
    return [
        {
            "number": step.number,
            "label": step.label,
            "transactional": step.transactional,
            "statements": [s.index for s in step.statements],
        }
        for step in result.plan.steps
    ]


def findings_json(result: LintResult) -> list[dict]:
    return [
        {
            "rule": f.rule,
            "level": f.level,
            "message": f.message,
            "help": f.help or "",
            "statement": f.statement_index,
            "line": f.line,
            "column": f.column,
            "source": f.source,
            "blocking": f.blocking,
            "needs_acknowledgement": f.needs_acknowledgement,
        }
        for f in result.findings
    ]


def open_blocking(findings: list[dict], policy: ProjectMigrationPolicy) -> list[dict]:
    """Blocking findings under today's policy (an admin may have made a rule blocking since)."""
    blocking = set(policy.blocking_rules)
    return [f for f in findings if f.get("blocking") or f.get("rule") in blocking]
