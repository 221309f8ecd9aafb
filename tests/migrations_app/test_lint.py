"""Lint classes: our own findings and squawk's (the real pinned binary), placed on their statements."""

import subprocess
import sys
from pathlib import Path

import pytest

from migrations_app.engine.lint import RulePolicy, lint_sql
from migrations_app.engine.squawk import SquawkError, parse_report

SQL = (
    "CREATE TABLE orders (id bigint PRIMARY KEY, note text);\n"  # statement 0
    "CREATE INDEX orders_note ON orders (note);\n"  # 1: squawk require-concurrent-index-creation
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_note2 ON orders (note);\n"  # 2: runs alone
    "ALTER TABLE orders\n    DROP COLUMN note;\n"  # 3: destructive, squawk ban-drop-column on line 5
)


# Two statements on one line, a comment with keywords between statements, a multi-line statement with
# findings on its second and third lines, non-ASCII names (squawk counts bytes), both kinds of step.
SCRIPT = (
    "-- migration: orders; commit later (a comment)\n"
    "CREATE TABLE orders (id int PRIMARY KEY, note text);\n"
    "CREATE INDEX orders_note ON orders (note); ALTER TABLE orders ADD COLUMN total int NOT NULL;\n"
    "/* drop nothing here */ UPDATE orders SET note = 'a;b' WHERE id = 1;\n"
    "UPDATE orders SET note = NULL;\n"
    "CREATE INDEX CONCURRENTLY orders_total ON orders (total);\n"
    'ALTER TABLE "Straße ü" ADD COLUMN "größe" int NOT NULL;\n'
    "ALTER TABLE orders\n"
    "    DROP COLUMN note,\n"
    "    ALTER COLUMN total TYPE bigint;\n"
    "DROP INDEX CONCURRENTLY orders_note;\n"
    "TRUNCATE orders CASCADE; SELECT 1\n"
)
# (statement index, rule, line, column, source, level), in the order the page lists them.
SCRIPT_FINDINGS = [
    (0, "prefer-bigint-over-int", 2, 25, "squawk", "warning"),
    (1, "require-concurrent-index-creation", 3, 1, "squawk", "warning"),
    (2, "adding-required-field", 3, 63, "squawk", "warning"),
    (2, "prefer-bigint-over-int", 3, 80, "squawk", "warning"),
    (4, "destructive", 5, 1, "ours", "warning"),
    (5, "non-transactional", 6, 1, "ours", "info"),
    (5, "prefer-robust-stmts", 6, 1, "squawk", "warning"),
    (6, "adding-required-field", 7, 24, "squawk", "warning"),
    (6, "prefer-bigint-over-int", 7, 43, "squawk", "warning"),
    (7, "destructive", 8, 1, "ours", "warning"),
    (7, "ban-drop-column", 9, 5, "squawk", "warning"),
    (7, "changing-column-type", 10, 24, "squawk", "warning"),
    (8, "non-transactional", 11, 1, "ours", "info"),
    (8, "prefer-robust-stmts", 11, 1, "squawk", "warning"),
    (9, "destructive", 12, 1, "ours", "warning"),
    (9, "ban-truncate-cascade", 12, 17, "squawk", "warning"),
]


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


def test_a_multi_statement_script_gets_every_finding_on_its_statement_line_and_column():
    result = lint_sql(SCRIPT)
    found = [(f.statement_index, f.rule, f.line, f.column, f.source, f.level) for f in result.findings]
    assert found == SCRIPT_FINDINGS
    assert [[s.index for s in step.statements] for step in result.plan.steps] == [
        [0, 1, 2, 3, 4],
        [5],
        [6, 7],
        [8],
        [9, 10],
    ]
    lines = SCRIPT.split("\n")
    at = {(f.rule, f.statement_index): lines[f.line - 1][f.column - 1 :] for f in result.findings}
    assert at["ban-drop-column", 7].startswith("DROP COLUMN note")
    assert at["adding-required-field", 6].startswith('ADD COLUMN "größe"')
    assert at["ban-truncate-cascade", 9].startswith("CASCADE")


def test_every_squawk_finding_of_a_long_script_lies_inside_the_statement_it_is_placed_on():
    shapes = [
        "ALTER TABLE t_{i} ADD COLUMN c int NOT NULL;",  # adding-required-field, prefer-bigint-over-int
        'ALTER TABLE "é_{i}"\n  DROP COLUMN c; CREATE INDEX i_{i} ON t (c);',  # drop column, index
        "-- a comment about drop {i};\nCREATE INDEX CONCURRENTLY j_{i} ON t (c);",  # runs alone
    ]
    sql = "\n".join(shape.format(i=i) for i in range(60) for shape in shapes)
    result = lint_sql(sql)
    statements = result.plan.statements
    theirs = [f for f in result.findings if f.source == "squawk"]
    # per round: two on the ALTER ... NOT NULL, ban-drop-column, the plain index, prefer-robust-stmts
    # on the concurrent build (it runs alone); none is lost or doubled
    assert len(theirs) == 5 * 60
    for f in theirs:
        statement = statements[f.statement_index]
        assert (statement.line, statement.column) <= (f.line, f.column)
        if statement.index + 1 < len(statements):
            following = statements[statement.index + 1]
            assert (f.line, f.column) < (following.line, following.column)


def test_lint_leaves_nothing_for_the_cycle_collector_and_gives_it_back_as_it_found_it():
    """lint pauses the cycle collector while it builds its thousands of records (they hold no cycles)."""
    probe = (
        "import gc; from migrations_app.engine.lint import lint_sql; "
        f"sql = {SCRIPT + ';'!r} * 20; gc.collect(); assert len(lint_sql(sql).findings) == 320; "
        "lint_sql('SELECT 1 +;'); print(gc.isenabled(), gc.collect()); gc.disable(); lint_sql(sql); "
        "print(gc.isenabled())"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "0", "False"]
