"""pgbench's script language: parsing, variables as bind parameters, functions and their errors."""

import random
import statistics

import pytest

from dashboard.benchmarks.engine.script import (
    STEP_SET,
    STEP_SLEEP,
    STEP_SQL,
    ScriptError,
    compile_script,
    parse_script,
    split_weight,
)


def evaluate(text: str, seed: int = 1, variables=None) -> dict:
    """Run a script's \\set and \\sleep steps once (no database) and return the variables."""
    script = parse_script(text + "\nSELECT 1;", name="t")
    compiled = compile_script(script, 0, random.Random(seed), {"scale": 1, **(variables or {})})
    values = {}
    for step in compiled.steps:
        if step[0] == STEP_SET:
            values[step[1]] = step[2](values)
        elif step[0] == STEP_SLEEP:
            values["__sleep_ns"] = step[1](values)
    return values


def draws(expression: str, count: int = 20000, seed: int = 1) -> list[int]:
    script = parse_script(f"\\set x {expression}\nSELECT 1;", name="t")
    compiled = compile_script(script, 0, random.Random(seed), {"scale": 1})
    function = compiled.steps[0][2]
    return [function({}) for _ in range(count)]


def test_uniform_random_covers_its_inclusive_range_evenly():
    values = draws("random(1, 10)")
    assert min(values) == 1 and max(values) == 10
    assert set(values) == set(range(1, 11))
    assert statistics.mean(values) == pytest.approx(5.5, abs=0.1)
    assert all(1400 < values.count(v) < 2600 for v in range(1, 11))


def test_uniform_random_takes_negative_bounds_and_a_single_value():
    values = draws("random(-5000, 5000)")
    assert -5000 <= min(values) < -4900 and 4900 < max(values) <= 5000
    assert abs(statistics.mean(values)) < 100
    assert set(draws("random(7, 7)", count=50)) == {7}


def test_gaussian_random_stays_in_range_and_crowds_the_middle():
    values = draws("random_gaussian(1, 100, 2.5)")
    assert 1 <= min(values) and max(values) <= 100
    assert statistics.mean(values) == pytest.approx(50.5, abs=1.0)
    middle = sum(1 for v in values if 41 <= v <= 60) / len(values)
    assert middle > 0.33  # uniform would give 0.20; a normal cut at +-2.5 sd about 0.38


def test_exponential_random_piles_up_at_the_low_end():
    values = draws("random_exponential(1, 100, 5)")
    assert 1 <= min(values) and max(values) <= 100
    low = sum(1 for v in values if v <= 20) / len(values)
    assert 0.58 < low < 0.69  # (1 - e^-1) / (1 - e^-5) = 0.636
    assert 18 < statistics.mean(values) < 22


def test_zipfian_random_follows_a_power_law():
    values = draws("random_zipfian(1, 100, 1.5)")
    assert 1 <= min(values) and max(values) <= 100
    counts = [values.count(k) for k in (1, 2, 3)]
    assert counts[0] > counts[1] > counts[2]
    assert 2.4 < counts[0] / counts[1] < 3.3  # 2 ** 1.5 = 2.83


def test_a_fixed_seed_gives_the_same_values_and_another_seed_different_ones():
    assert draws("random(1, 1000000)", count=20, seed=5) == draws("random(1, 1000000)", count=20, seed=5)
    assert draws("random(1, 1000000)", count=20, seed=5) != draws("random(1, 1000000)", count=20, seed=6)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("(7 + 3) * 2 - 10 / 4", 18),
        ("-7 / 2", -3),  # C division truncates toward zero
        ("-7 % 3", -1),
        ("7.0 / 2", 3.5),
        ("1 + 2.5", 3.5),
        ("2 * (3 + (4 - 1)) * -1", -12),
        ("greatest(1, 5, 3) + least(4, 2)", 7),
        ("abs(-3) + int(2.4) + sqrt(16)", 9.0),
        ("100000 * :scale", 300000),
    ],
)
def test_arithmetic_follows_pgbench(expression, expected):
    result = evaluate(f"\\set x {expression}", variables={"scale": 3})["x"]
    assert result == expected and type(result) is type(expected)


def test_variables_carry_from_one_set_to_the_next():
    values = evaluate("\\set a 5\n\\set b :a * 2 + 1\n\\set c :b - :a")
    assert values == {"a": 5, "b": 11, "c": 6}


def test_sleep_takes_units_and_variables():
    assert evaluate("\\sleep 3 ms")["__sleep_ns"] == 3_000_000
    assert evaluate("\\sleep 2")["__sleep_ns"] == 2_000_000_000
    assert evaluate("\\set d 250\n\\sleep :d us")["__sleep_ns"] == 250_000


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("\\set x random(5, 1)", "empty range given to random"),
        ("\\set x random(1)", "random() takes 2 argument(s), 1 given"),
        (
            "\\set x random_gaussian(1, 10, 1.5)",
            "gaussian parameter must be at least 2.000000 (not 1.500000)",
        ),
        ("\\set x random_exponential(1, 10, 0)", "exponential parameter must be greater than zero"),
        ("\\set x random_zipfian(1, 10, 1)", "zipfian parameter must be in range [1.001, 1000]"),
        ("\\set x random_zipfian(1, 10, 2000)", "zipfian parameter must be in range [1.001, 1000]"),
        ("\\set x 10 / 0", "division by zero"),
        ("\\set x 9223372036854775807 + 1", "bigint out of range"),
        ("\\set x (1 + 2", "expected ')'"),
        ("\\set x 1 +", "unexpected end of expression"),
        ("\\set x foo(1)", "unknown function 'foo'"),
        ("\\set x 1 $ 2", "unexpected character '$'"),
        ("\\set x :nope + 1", "undefined variable :nope"),
        ("\\set", "\\set needs a variable name"),
        ("\\sleep 10 minutes", "unknown \\sleep unit 'minutes'"),
        ("\\sleep soon", "whole number or a :variable"),
        ("\\gset", "unknown meta-command \\gset"),
        ("SELECT :missing;", "undefined variable :missing"),
    ],
)
def test_bad_scripts_name_the_line_and_the_problem(line, message):
    with pytest.raises(ScriptError) as caught:
        parse_script(f"-- header\n\\set ok 1\n{line}\nSELECT 1;", name="mine")
    assert "mine line 3: " in str(caught.value)
    assert message in str(caught.value)
    assert caught.value.line == 3


def test_bad_arguments_coming_from_variables_fail_when_evaluated_with_the_line():
    script = parse_script("\\set p 1\n\\set x random_gaussian(1, 10, :p)\nSELECT 1;", name="v")
    compiled = compile_script(script, 0, random.Random(1), {"scale": 1})
    values = {"p": compiled.steps[0][2]({})}
    with pytest.raises(ScriptError, match=r"v line 2: gaussian parameter must be at least 2"):
        compiled.steps[1][2](values)


def test_a_script_without_sql_is_refused():
    with pytest.raises(ScriptError, match="no SQL statement"):
        parse_script("\\set x 1\n-- nothing else\n", name="empty")


def test_variables_become_numbered_bind_parameters_outside_literals_casts_and_comments():
    script = parse_script(
        "\\set aid 5\n\\set bid 6\n"
        "SELECT ':aid', \"col:aid\", x::int, :aid + :bid + :aid -- :bid\n  FROM t /* :aid */ WHERE y = :bid;"
    )
    (sql,) = script.statements
    assert sql.text == (
        "SELECT ':aid', \"col:aid\", x::int, $1 + $2 + $1 -- :bid\n  FROM t /* :aid */ WHERE y = $2"
    )
    assert sql.parameters == ("aid", "bid")
    assert "5" not in sql.text and "6" not in sql.text


def test_statements_split_on_semicolons_across_lines_and_keep_their_line():
    script = parse_script("BEGIN;\nUPDATE t\n   SET a = ';'\n WHERE b = 1; SELECT 2;\n-- done\nEND")
    assert [(c.line, c.text.split()[0]) for c in script.statements] == [
        (1, "BEGIN"),
        (2, "UPDATE"),
        (4, "SELECT"),
        (6, "END"),
    ]
    assert "';'" in script.statements[1].text


def test_hostile_text_in_sql_is_kept_verbatim():
    text = "SELECT '<script>alert(1)</script>', 'ünïcødé', $$x$$, 'it''s';"
    (sql,) = parse_script(text).statements
    assert sql.text == text.rstrip(";") and sql.parameters == ()


def test_compiled_steps_have_one_prepared_name_per_statement():
    script = parse_script("\\set a 1\nSELECT :a;\nSELECT 2;")
    steps = compile_script(script, 3, random.Random(1), {"scale": 1}).steps
    assert [s[0] for s in steps] == [STEP_SET, STEP_SQL, STEP_SQL]
    assert steps[1][1] != steps[2][1]
    assert steps[1][2] == b"SELECT $1"


def test_weights_are_read_like_pgbench():
    assert split_weight("tpcb-like@3") == ("tpcb-like", 3)
    assert split_weight("select-only") == ("select-only", 1)
    with pytest.raises(ScriptError, match="weight must be a whole number"):
        split_weight("tpcb-like@lots")
