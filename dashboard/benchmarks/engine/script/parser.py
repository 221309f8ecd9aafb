"""Parsing a script's text: statements ending with `;`, `\\set` and `\\sleep`, variables as `$n`."""

import random
import re

from .compiler import check_constant_arguments, compile_expression
from .expressions import Num, Var, parse_expression, variables_of
from .model import PRESET_VARIABLES, SLEEP_UNITS_NS, Script, ScriptError, SetCommand, SleepCommand, SqlCommand

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
