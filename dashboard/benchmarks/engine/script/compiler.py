"""From parsed scripts to what a client runs: expressions as closures, scripts as step tuples.

Constant parts of an expression are folded once; `random(a, b)` with constant bounds gets
a fast path (the hot path of pgbench's scripts). Steps are plain tuples so the client's
loop does no attribute lookups.
"""

from collections.abc import Callable
from dataclasses import dataclass

from .expressions import Binary, Call, Num, Unary, Var, variables_of
from .functions import FUNCTIONS, PARAMETER_CHECKS, arith, fast_uniform, to_int, uniform
from .model import STEP_SET, STEP_SLEEP, STEP_SQL, Script, ScriptError, SetCommand, SleepCommand


def check_constant_arguments(node, line: int) -> None:
    """Catch bad random() parameters at parse time when they are constants (pgbench: at run time)."""
    for child in node.args if isinstance(node, Call) else ():
        check_constant_arguments(child, line)
    if isinstance(node, Unary):
        check_constant_arguments(node.operand, line)
    if isinstance(node, Binary):
        check_constant_arguments(node.left, line)
        check_constant_arguments(node.right, line)
    if isinstance(node, Call) and node.name.startswith("random") and not variables_of(node):
        try:
            values = [compile_expression(a, None, {})({}) for a in node.args]
            low, high = to_int(values[0]), to_int(values[1])
            if low > high:
                raise ArithmeticError("empty range given to random")
            if node.name in PARAMETER_CHECKS:
                PARAMETER_CHECKS[node.name](float(values[2]))
        except ArithmeticError as exc:
            raise ScriptError(f"{node.name}(): {exc}", line) from None


def _has_random(node) -> bool:
    if isinstance(node, Call):
        return FUNCTIONS[node.name][2] or any(_has_random(a) for a in node.args)
    if isinstance(node, Unary):
        return _has_random(node.operand)
    if isinstance(node, Binary):
        return _has_random(node.left) or _has_random(node.right)
    return False


def _negate(value):
    return -value if isinstance(value, float) else arith("-", 0, value)


def compile_expression(node, rng, constants: dict) -> Callable[[dict], int | float]:
    """A closure computing the expression from the client's variables; constant parts are folded."""
    if not _has_random(node) and not (variables_of(node) - constants.keys()):
        value = _compile(node, rng, constants)({})
        return lambda v: value
    return _compile(node, rng, constants)


def _compile(node, rng, constants: dict) -> Callable[[dict], int | float]:
    if isinstance(node, Num):
        value = node.value
        return lambda v: value
    if isinstance(node, Var):
        if node.name in constants:
            value = constants[node.name]
            return lambda v: value
        name = node.name
        return lambda v: v[name]
    if isinstance(node, Unary):
        operand = compile_expression(node.operand, rng, constants)
        return operand if node.op == "+" else (lambda v: _negate(operand(v)))
    if isinstance(node, Binary):
        left = compile_expression(node.left, rng, constants)
        right = compile_expression(node.right, rng, constants)
        op = node.op
        return lambda v: arith(op, left(v), right(v))
    _, function, needs_rng = FUNCTIONS[node.name]
    args = [compile_expression(a, rng, constants) for a in node.args]
    if not any(_has_random(a) for a in node.args) and not (variables_of(node) - constants.keys()):
        folded = [a({}) for a in args]
        if function is uniform:
            return fast_uniform(rng, *folded)
        return (lambda v: function(rng, *folded)) if needs_rng else (lambda v: function(*folded))
    if needs_rng:
        return lambda v: function(rng, *[a(v) for a in args])
    return lambda v: function(*[a(v) for a in args])


# What evaluating a \set or \sleep may raise (overflow, division by zero, bad random() arguments).
EVALUATION_ERRORS = (ArithmeticError, OverflowError, ValueError)


@dataclass
class CompiledScript:
    """A script's steps for one client, as tuples (the client's loop indexes them, no attribute lookups):

    (STEP_SET, variable, evaluate, evaluate_unchecked, line)
    (STEP_SQL, statement_name, sql, parameter_names, single_parameter_or_None, line)
    (STEP_SLEEP, nanoseconds, nanoseconds_unchecked, line)

    `evaluate` raises ScriptError naming the line; the `_unchecked` variant raises the bare
    EVALUATION_ERRORS, for a loop that catches them once around the whole transaction.
    """

    name: str
    index: int
    steps: list
    sets_variables: bool


def compile_script(script: Script, index: int, rng, constants: dict) -> CompiledScript:
    """Steps for one client; preset variables no script assigns are folded as constants."""
    constants = {k: v for k, v in constants.items() if k not in script.assigned}
    steps, sql_number = [], 0
    for command in script.commands:
        line = command.line
        if isinstance(command, SetCommand):
            fn = compile_expression(command.expression, rng, constants)
            steps.append((STEP_SET, command.variable, _guarded(fn, script.name, line), fn, line))
        elif isinstance(command, SleepCommand):
            amount, unit = compile_expression(command.amount, rng, constants), command.unit_ns

            def sleep_ns(v, amount=amount, unit=unit):
                return to_int(amount(v)) * unit

            steps.append((STEP_SLEEP, _guarded(sleep_ns, script.name, line), sleep_ns, line))
        else:
            name = f"nob_{index}_{sql_number}".encode()
            sql_number += 1
            parameters = command.parameters
            single = parameters[0] if len(parameters) == 1 else None
            steps.append((STEP_SQL, name, command.text.encode(), parameters, single, line))
    return CompiledScript(script.name, index, steps, bool(script.assigned))


def _guarded(fn: Callable, script: str, line: int) -> Callable:
    def evaluate(variables):
        try:
            return fn(variables)
        except EVALUATION_ERRORS as exc:
            raise ScriptError(str(exc), line, script) from None

    return evaluate
