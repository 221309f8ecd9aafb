"""Lint classes: our own findings and squawk's (the real pinned binary), placed on their statements."""

import pytest

from migrations_app.engine.lint import RulePolicy, lint_sql
from migrations_app.engine.squawk import SquawkError, parse_report

SQL = (
    "CREATE TABLE orders (id bigint PRIMARY KEY, note text);\n"  # statement 0
    "CREATE INDEX orders_note ON orders (note);\n"  # 1: squawk require-concurrent-index-creation
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_note2 ON orders (note);\n"  # 2: runs alone
    "ALTER TABLE orders\n    DROP COLUMN note;\n"  # 3: destructive, squawk ban-drop-column on line 5
)


def rules_of(result, index):
    return {f.rule for f in result.for_statement(index)}


def test_syntax_error_is_shown_at_its_line_and_column_and_blocks():
    result = lint_sql("CREATE TABLE a (id bigint);\n\nALTER TABLE a ADD COLUMN b int,;\n")
    assert result.blocked and result.plan is None
    (finding,) = result.findings
    assert (finding.rule, finding.line, finding.column, finding.level) == ("syntax-error", 3, 32, "error")
    assert 'at or near ";"' in finding.message


def test_non_transactional_statement_is_marked_as_running_alone():
    result = lint_sql(SQL)
    (finding,) = [f for f in result.findings if f.rule == "non-transactional"]
    assert finding.statement_index == 2 and finding.level == "info" and not finding.blocking
    assert "Runs on its own" in finding.message and "CREATE INDEX CONCURRENTLY" in finding.message


def test_user_written_begin_and_commit_are_refused():
    result = lint_sql("BEGIN;\nCREATE TABLE a (id bigint);\nCOMMIT;")
    refused = [f for f in result.findings if f.rule == "transaction-control"]
    assert [(f.statement_index, f.line) for f in refused] == [(0, 1), (2, 3)]
    assert all(f.blocking for f in refused)
    assert result.blocked


def test_destructive_change_needs_acknowledgement():
    result = lint_sql(SQL)
    (finding,) = result.needs_acknowledgement
    assert finding.rule == "destructive" and finding.statement_index == 3
    assert "drops column note of orders" in finding.message
    assert not result.blocked
    assert result.blocks_submission(acknowledged_destructive=False)
    assert not result.blocks_submission(acknowledged_destructive=True)


def test_squawk_findings_land_on_their_statement_with_help_text():
    result = lint_sql(SQL)
    (index_finding,) = [f for f in result.findings if f.rule == "require-concurrent-index-creation"]
    assert (index_finding.statement_index, index_finding.line, index_finding.source) == (1, 2, "squawk")
    assert "concurrently" in index_finding.help.lower()
    (drop_finding,) = [f for f in result.findings if f.rule == "ban-drop-column"]
    assert (drop_finding.statement_index, drop_finding.line, drop_finding.column) == (3, 5, 5)


def test_policy_decides_which_squawk_rules_block():
    warned = lint_sql(SQL)
    blocked = lint_sql(SQL, policy=RulePolicy(blocking={"require-concurrent-index-creation"}))
    warning = next(f for f in warned.findings if f.rule == "require-concurrent-index-creation")
    error = next(f for f in blocked.findings if f.rule == "require-concurrent-index-creation")
    assert (warning.level, warning.blocking) == ("warning", False)
    assert (error.level, error.blocking) == ("error", True)
    assert not warned.blocked and blocked.blocked


def test_timeout_rules_are_off_by_default_and_can_be_turned_on():
    default = lint_sql(SQL)
    assert not {"require-lock-timeout", "require-statement-timeout"} & {f.rule for f in default.findings}
    strict = lint_sql(SQL, policy=RulePolicy(disabled=frozenset()))
    assert {"require-lock-timeout", "require-statement-timeout"} <= {f.rule for f in strict.findings}


def test_disabled_rules_are_not_reported():
    result = lint_sql(SQL, policy=RulePolicy(disabled={"ban-drop-column"}))
    assert "ban-drop-column" not in {f.rule for f in result.findings}
    assert "destructive" in rules_of(result, 3)  # our own acknowledgement stays


def test_unknown_rule_names_are_refused_clearly():
    with pytest.raises(ValueError, match="Unknown squawk rule"):
        RulePolicy(blocking={"ban-everything"})
    with pytest.raises(ValueError, match="both blocking and disabled"):
        RulePolicy(blocking={"ban-drop-table"}, disabled={"ban-drop-table"})


def test_robustness_advice_is_kept_only_where_a_rerun_could_be_half_done():
    result = lint_sql("ALTER TABLE t ADD COLUMN c bigint;\nCREATE INDEX CONCURRENTLY t_c ON t (c);")
    robust = [f.statement_index for f in result.findings if f.rule == "prefer-robust-stmts"]
    assert robust == [1]


def test_the_target_major_is_passed_to_squawk():
    sql = "ALTER TABLE t ADD COLUMN c bigint DEFAULT 0;"
    assert "adding-field-with-default" in {f.rule for f in lint_sql(sql, pg_major=10).findings}
    assert "adding-field-with-default" not in {f.rule for f in lint_sql(sql, pg_major=15).findings}


def test_hostile_names_and_unicode_keep_positions_right():
    sql = 'SELECT 1;\nALTER TABLE "ééé <script>" ADD COLUMN "ü""x" int NOT NULL;'
    result = lint_sql(sql)
    (finding,) = [f for f in result.findings if f.rule == "adding-required-field"]
    assert (finding.statement_index, finding.line) == (1, 2)
    # squawk counts bytes; the column we give counts characters: "ADD" starts at character 28.
    assert finding.column == 28
    assert sql.split("\n")[1][finding.column - 1 :].startswith("ADD")


def test_a_squawk_report_is_read_and_a_broken_one_says_what_squawk_said():
    assert parse_report("[]", "", 0) == []
    [finding] = parse_report(
        '[{"rule_name": "ban-drop-table", "level": "Warning", "message": "é", "help": null, '
        '"line": 2, "column": 0}]',
        "",
        1,
    )
    assert (finding.rule, finding.message, finding.line, finding.column) == ("ban-drop-table", "é", 2, 0)
    with pytest.raises(SquawkError, match="squawk failed: error: unknown rule"):
        parse_report("", "error: unknown rule\nmore", 2)
    with pytest.raises(SquawkError, match="squawk failed: not json"):
        parse_report("not json", "", 2)
