"""pgbench's script language (a subset): parsing, checking and compiling to fast steps.

A script is one transaction: SQL statements ending with `;` (several lines each if
needed), `\\set name expression` and `\\sleep n [us|ms|s]`. Expressions have integers,
doubles, `:variables`, `+ - * / %`, parentheses and the functions in FUNCTIONS, with
pgbench's semantics (integer division truncates, int64 overflow is an error, and the
random functions check their arguments with pgbench's rules and messages).

`:name` inside SQL becomes a bind parameter `$n` (never text pasted into SQL); `::` casts,
string literals, quoted identifiers and comments are left alone. Every error names its
line: `ScriptError("line 3: ...")`.
"""

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MIN_GAUSSIAN_PARAM = 2.0
MIN_ZIPFIAN_PARAM, MAX_ZIPFIAN_PARAM = 1.001, 1000.0
# Variables pgbench defines by itself; the runner gives them values per client.
PRESET_VARIABLES = ("scale", "client_id", "random_seed")

STEP_SET, STEP_SQL, STEP_SLEEP = 0, 1, 2
SLEEP_UNITS_NS = {"us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


class ScriptError(ValueError):
    """A script that cannot run; the message names the script's line."""

    def __init__(self, message: str, line: int | None = None, script: str = ""):
        where = (
            f"{script + ' ' if script else ''}line {line}: " if line else (f"{script}: " if script else "")
        )
        super().__init__(where + message)
        self.line = line
        self.detail = message


# --- expressions -------------------------------------------------------------------------

TOKEN_RE = re.compile(
    r"\s*(?:(?P<double>(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)"
    r"|(?P<int>\d+)|(?P<var>:[A-Za-z0-9_]+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>[-+*/%(),]))"
)


@dataclass(frozen=True)
class Num:
    value: int | float


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class Unary:
    op: str
    operand: object


@dataclass(frozen=True)
class Binary:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple


def tokenize(text: str, line: int) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            raise ScriptError(f"unexpected character {text[pos:].strip()[:1]!r} in expression", line)
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    """Recursive descent: expr := term (+|- term)*; term := unary (*|/|% unary)*."""

    def __init__(self, text: str, line: int):
        self.tokens = tokenize(text, line)
        self.pos = 0
        self.line = line

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ScriptError("unexpected end of expression", self.line)
        self.pos += 1
        return token

    def expect(self, op: str) -> None:
        if self.peek() is None:
            raise ScriptError(f"expected {op!r} before the end of the expression", self.line)
        token = self.take()
        if token != ("op", op):
            raise ScriptError(f"expected {op!r}, found {token[1]!r}", self.line)

    def parse(self):
        if not self.tokens:
            raise ScriptError("missing expression", self.line)
        node = self.expr()
        if self.peek() is not None:
            raise ScriptError(f"unexpected {self.peek()[1]!r} after the expression", self.line)
        return node

    def expr(self):
        node = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            node = Binary(self.take()[1], node, self.term())
        return node

    def term(self):
        node = self.unary()
        while self.peek() in (("op", "*"), ("op", "/"), ("op", "%")):
            node = Binary(self.take()[1], node, self.unary())
        return node

    def unary(self):
        if self.peek() in (("op", "-"), ("op", "+")):
            return Unary(self.take()[1], self.unary())
        return self.atom()

    def atom(self):
        kind, text = self.take()
        if kind == "int":
            value = int(text)
            if value > INT64_MAX + 1:  # + 1: "-9223372036854775808" is negated afterwards
                raise ScriptError(f"integer {text} is out of range", self.line)
            return Num(value)
        if kind == "double":
            return Num(float(text))
        if kind == "var":
            return Var(text[1:])
        if kind == "name":
            return self.call(text.lower())
        if text == "(":
            node = self.expr()
            self.expect(")")
            return node
        raise ScriptError(f"unexpected {text!r}", self.line)

    def call(self, name: str):
        if name not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise ScriptError(f"unknown function {name!r} (known: {known})", self.line)
        self.expect("(")
        args = []
        if self.peek() != ("op", ")"):
            args.append(self.expr())
            while self.peek() == ("op", ","):
                self.take()
                args.append(self.expr())
        self.expect(")")
        low, high = FUNCTIONS[name][0]
        if not low <= len(args) <= high:
            wanted = str(low) if low == high else f"{low} or more"
            raise ScriptError(f"{name}() takes {wanted} argument(s), {len(args)} given", self.line)
        return Call(name, tuple(args))


def parse_expression(text: str, line: int = 1):
    return _Parser(text, line).parse()


# --- evaluation semantics ----------------------------------------------------------------


def _int64(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ArithmeticError("bigint out of range")
    return value


def to_int(value: int | float) -> int:
    """pgbench's coerceToInt: doubles are rounded (rint) and must fit in int64."""
    if isinstance(value, float):
        if math.isnan(value) or not INT64_MIN <= value < 2.0**63:
            raise ArithmeticError("double to int overflow for " + repr(value))
        return int(round(value))
    return value


def arith(op: str, a, b):
    if op == "%":
        a, b = to_int(a), to_int(b)
        if b == 0:
            raise ArithmeticError("division by zero")
        return int(math.fmod(a, b)) if abs(a) < 2**53 else a - b * int(a / b)
    if isinstance(a, float) or isinstance(b, float):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0:
            raise ArithmeticError("division by zero")
        return a / b
    if op == "+":
        return _int64(a + b)
    if op == "-":
        return _int64(a - b)
    if op == "*":
        return _int64(a * b)
    if b == 0:
        raise ArithmeticError("division by zero")
    quotient = abs(a) // abs(b)  # C division truncates toward zero
    return _int64(quotient if (a >= 0) == (b > 0) else -quotient)


def _uniform(rng, low, high) -> int:
    low, high = to_int(low), to_int(high)
    if low > high:
        raise ArithmeticError("empty range given to random")
    if high - low + 1 > INT64_MAX:
        raise ArithmeticError("random range is too large")
    return low + int(rng.random() * (high - low + 1)) if high - low < 2**52 else rng.randint(low, high)


def _fast_uniform(rng, low, high) -> Callable[[dict], int]:
    """random(a, b) with constant bounds, checked once: the hot path of pgbench's scripts."""
    low, high = to_int(low), to_int(high)
    _uniform(rng, low, high)  # raises for an empty or too large range
    span, draw = high - low + 1, rng.random
    if span >= 2**52:
        return lambda v: rng.randint(low, high)
    return lambda v: low + int(draw() * span)


def _checked_arguments(low, high, parameter, check) -> tuple[int, int, float]:
    """The bounds as integers and the parameter as a double, checked with pgbench's messages."""
    low, high, parameter = to_int(low), to_int(high), float(parameter)
    if low > high:
        raise ArithmeticError("empty range given to random")
    check(parameter)
    return low, high, parameter


def check_exponential(parameter: float) -> None:
    if parameter <= 0.0:
        raise ArithmeticError(f"exponential parameter must be greater than zero (not {parameter:f})")


def _exponential(rng, low, high, parameter) -> int:
    low, high, parameter = _checked_arguments(low, high, parameter, check_exponential)
    cut = math.exp(-parameter)
    uniform = 1.0 - rng.random()  # in (0, 1]
    value = -math.log(cut + (1.0 - cut) * uniform) / parameter
    return low + int((high - low + 1) * value)


def check_gaussian(parameter: float) -> None:
    if parameter < MIN_GAUSSIAN_PARAM:
        raise ArithmeticError(
            f"gaussian parameter must be at least {MIN_GAUSSIAN_PARAM:f} (not {parameter:f})"
        )


def _gaussian(rng, low, high, parameter) -> int:
    low, high, parameter = _checked_arguments(low, high, parameter, check_gaussian)
    while True:  # Box-Muller, redrawn until inside [-parameter, parameter)
        stdev = math.sqrt(-2.0 * math.log(1.0 - rng.random())) * math.sin(2.0 * math.pi * rng.random())
        if -parameter <= stdev < parameter:
            break
    return low + int((high - low + 1) * ((stdev + parameter) / (parameter * 2.0)))


def check_zipfian(parameter: float) -> None:
    if not MIN_ZIPFIAN_PARAM <= parameter <= MAX_ZIPFIAN_PARAM:
        raise ArithmeticError(
            f"zipfian parameter must be in range [{MIN_ZIPFIAN_PARAM:.3f}, {MAX_ZIPFIAN_PARAM:.0f}]"
            f" (not {parameter:f})"
        )


def _zipfian(rng, low, high, parameter) -> int:
    """pgbench's computeIterativeZipfian (rejection method of Devroye, p. 550)."""
    low, high, s = _checked_arguments(low, high, parameter, check_zipfian)
    n = high - low + 1
    if n <= 1:
        return low
    b = 2.0 ** (s - 1.0)
    while True:
        u, v = rng.random(), rng.random()
        if u == 0.0:
            continue
        x = math.floor(u ** (-1.0 / (s - 1.0)))
        t = (1.0 + 1.0 / x) ** (s - 1.0)
        if v * x * (t - 1.0) / (b - 1.0) <= t / b and x <= n:
            return low - 1 + int(x)


def _sqrt(value) -> float:
    if value < 0:
        raise ArithmeticError("sqrt of a negative number")
    return math.sqrt(value)


# name -> ((min args, max args), function, needs the client's random generator)
FUNCTIONS: dict[str, tuple[tuple[int, float], Callable, bool]] = {
    "random": ((2, 2), _uniform, True),
    "random_gaussian": ((3, 3), _gaussian, True),
    "random_exponential": ((3, 3), _exponential, True),
    "random_zipfian": ((3, 3), _zipfian, True),
    "abs": ((1, 1), abs, False),
    "int": ((1, 1), to_int, False),
    "double": ((1, 1), float, False),
    "sqrt": ((1, 1), _sqrt, False),
    "pi": ((0, 0), lambda: math.pi, False),
    "greatest": ((1, math.inf), max, False),
    "least": ((1, math.inf), min, False),
}
PARAMETER_CHECKS = {
    "random_gaussian": check_gaussian,
    "random_exponential": check_exponential,
    "random_zipfian": check_zipfian,
}


def variables_of(node) -> set[str]:
    if isinstance(node, Var):
        return {node.name}
    if isinstance(node, Unary):
        return variables_of(node.operand)
    if isinstance(node, Binary):
        return variables_of(node.left) | variables_of(node.right)
    if isinstance(node, Call):
        return set().union(*(variables_of(a) for a in node.args)) if node.args else set()
    return set()


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
        if function is _uniform:
            return _fast_uniform(rng, *folded)
        return (lambda v: function(rng, *folded)) if needs_rng else (lambda v: function(*folded))
    if needs_rng:
        return lambda v: function(rng, *[a(v) for a in args])
    return lambda v: function(*[a(v) for a in args])


# --- scripts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SetCommand:
    line: int
    variable: str
    expression: object


@dataclass(frozen=True)
class SleepCommand:
    line: int
    amount: object  # Num or Var
    unit_ns: int


@dataclass(frozen=True)
class SqlCommand:
    line: int
    text: str  # with $1..$n in place of the variables
    parameters: tuple[str, ...]


@dataclass(frozen=True)
class Script:
    name: str
    commands: tuple
    weight: int = 1
    assigned: frozenset = field(default=frozenset())

    @property
    def statements(self) -> list[SqlCommand]:
        return [c for c in self.commands if isinstance(c, SqlCommand)]


VARIABLE_RE = re.compile(r"[A-Za-z0-9_]+")


def substitute_variables(text: str, line: int, known: set[str]) -> tuple[str, tuple[str, ...]]:
    """Replace `:name` by `$n` outside literals, quoted identifiers and comments."""
    out, params, i, n = [], [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"":
            end = i + 1
            while end < n and not (text[end] == ch and text[end + 1 : end + 2] != ch):
                end += 2 if text[end] == ch else 1
            out.append(text[i : end + 1])
            i = end + 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(text[i:end])
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(text[i:end])
            i = end
        elif text.startswith("::", i):
            out.append("::")
            i += 2
        elif ch == ":" and (match := VARIABLE_RE.match(text, i + 1)):
            name = match.group()
            if name not in known:
                raise ScriptError(f"undefined variable :{name} (set it with \\set before use)", line)
            if name not in params:
                params.append(name)
            out.append(f"${params.index(name) + 1}")
            i = match.end()
        else:
            out.append(ch)
            i += 1
    return "".join(out), tuple(params)


def _statement_end(text: str, start: int) -> int:
    """Index of the `;` ending the statement that starts at `start`, or -1."""
    i, n, quote = start, len(text), None
    while i < n:
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif text.startswith("--", i):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            i = n if close < 0 else close + 2
            continue
        elif ch == ";":
            return i
        i += 1
    return -1


def _is_blank_sql(text: str) -> bool:
    without_comments = re.sub(r"--[^\n]*|/\*.*?\*/", "", text, flags=re.S)
    return not without_comments.strip()


def _parse_meta(stripped: str, line: int, assigned: set[str], known: set[str]):
    word, _, rest = stripped[1:].partition(" ")
    word, rest = word.strip().lower(), rest.strip()
    if word == "set":
        name, _, expression = rest.partition(" ")
        if not name or not VARIABLE_RE.fullmatch(name):
            raise ScriptError("\\set needs a variable name and an expression", line)
        node = parse_expression(expression, line)
        missing = variables_of(node) - known
        if missing:
            raise ScriptError(f"undefined variable :{sorted(missing)[0]} in \\set {name}", line)
        check_constant_arguments(node, line)
        if not variables_of(node):
            try:  # a constant expression fails the same way on every run: say so now
                compile_expression(node, random.Random(0), {})({})
            except ArithmeticError as exc:
                raise ScriptError(f"\\set {name}: {exc}", line) from None
        assigned.add(name)
        known.add(name)
        return SetCommand(line, name, node)
    if word == "sleep":
        parts = rest.split()
        if not 1 <= len(parts) <= 2:
            raise ScriptError("\\sleep needs a duration: \\sleep N [us|ms|s]", line)
        unit = parts[1].lower() if len(parts) == 2 else "s"
        if unit not in SLEEP_UNITS_NS:
            raise ScriptError(f"unknown \\sleep unit {parts[1]!r} (use us, ms or s)", line)
        if parts[0].startswith(":"):
            if parts[0][1:] not in known:
                raise ScriptError(f"undefined variable {parts[0]} in \\sleep", line)
            amount = Var(parts[0][1:])
        elif parts[0].isdigit():
            amount = Num(int(parts[0]))
        else:
            raise ScriptError(
                f"\\sleep duration must be a whole number or a :variable, not {parts[0]!r}", line
            )
        return SleepCommand(line, amount, SLEEP_UNITS_NS[unit])
    raise ScriptError(f"unknown meta-command \\{word} (supported: \\set, \\sleep)", line)


def parse_script(text: str, name: str = "script", weight: int = 1, preset=PRESET_VARIABLES) -> Script:
    """Parse a pgbench script; raises ScriptError naming the line of the first problem."""
    if not isinstance(weight, int) or weight < 0:
        raise ScriptError("weight must be a whole number >= 0", script=name)
    commands, assigned, known = [], set(), set(preset)
    pending, pending_line = "", 0
    lines = text.replace("\r\n", "\n").split("\n")
    try:
        for number, raw in enumerate(lines, start=1):
            stripped = raw.strip()
            if not pending and stripped.startswith("\\"):
                commands.append(_parse_meta(stripped, number, assigned, known))
                continue
            if not pending and (not stripped or stripped.startswith("--")):
                continue
            if not pending:
                pending_line = number
            pending += raw + "\n"
            while (end := _statement_end(pending, 0)) >= 0:
                statement, pending = pending[:end], pending[end + 1 :]
                if not _is_blank_sql(statement):
                    sql, params = substitute_variables(statement.strip(), pending_line, known)
                    commands.append(SqlCommand(pending_line, sql, params))
                pending_line = number
                if _is_blank_sql(pending):
                    pending = ""
        if pending and not _is_blank_sql(pending):
            sql, params = substitute_variables(pending.strip(), pending_line, known)
            commands.append(SqlCommand(pending_line, sql, params))
    except ScriptError as exc:
        raise ScriptError(exc.detail, exc.line, name) from None
    if not any(isinstance(c, SqlCommand) for c in commands):
        raise ScriptError("the script has no SQL statement", script=name)
    return Script(name=name, commands=tuple(commands), weight=weight, assigned=frozenset(assigned))


def split_weight(spec: str) -> tuple[str, int]:
    """`name@W` -> (name, W) as pgbench's -b/-f take them; no `@` means weight 1."""
    name, at, weight = spec.rpartition("@")
    if not at:
        return spec, 1
    if not weight.isdigit():
        raise ScriptError(f"weight must be a whole number >= 0, not {weight!r}", script=name)
    return name, int(weight)


# --- compiled steps (what the runner executes) -------------------------------------------


@dataclass
class CompiledScript:
    name: str
    index: int
    steps: list  # (STEP_SET, name, fn) | (STEP_SQL, statement_name, sql, params, line) | (STEP_SLEEP, fn)
    sets_variables: bool


def compile_script(script: Script, index: int, rng, constants: dict) -> CompiledScript:
    """Steps for one client; preset variables no script assigns are folded as constants."""
    constants = {k: v for k, v in constants.items() if k not in script.assigned}
    steps, sql_number = [], 0
    for command in script.commands:
        if isinstance(command, SetCommand):
            fn = _guarded(compile_expression(command.expression, rng, constants), script.name, command.line)
            steps.append((STEP_SET, command.variable, fn))
        elif isinstance(command, SleepCommand):
            amount = compile_expression(command.amount, rng, constants)
            unit = command.unit_ns
            steps.append(
                (
                    STEP_SLEEP,
                    _guarded(lambda v, a=amount, u=unit: to_int(a(v)) * u, script.name, command.line),
                )
            )
        else:
            name = f"nob_{index}_{sql_number}".encode()
            sql_number += 1
            steps.append((STEP_SQL, name, command.text.encode(), command.parameters, command.line))
    return CompiledScript(script.name, index, steps, bool(script.assigned))


def _guarded(fn: Callable, script: str, line: int) -> Callable:
    def evaluate(variables):
        try:
            return fn(variables)
        except (ArithmeticError, OverflowError, ValueError) as exc:
            raise ScriptError(str(exc), line, script) from None

    return evaluate
