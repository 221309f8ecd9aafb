"""`\\set` expressions: tokens, a recursive-descent parser and the tree it builds.

Integers, doubles, `:variables`, `+ - * / %`, parentheses and the functions in
functions.FUNCTIONS (their argument counts are checked here).
"""

import re
from dataclasses import dataclass

from .functions import FUNCTIONS, INT64_MAX
from .model import ScriptError

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
