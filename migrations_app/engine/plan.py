"""A migration script as the applier will run it: statements and the steps they are grouped into.

Consecutive transactional statements form one step (one transaction, recorded
with the step's history row); each non-transactional statement is a step of its own.
"""

from dataclasses import dataclass, field
from functools import cached_property

from .classify import ConcurrentIndex, RelationName, classify, relations_of
from .parse import Piece, checksum, split_sql


@dataclass(frozen=True)
class Statement:
    index: int  # 0-based position in the script
    text: str  # exactly as written, without the trailing semicolon
    line: int  # 1-based line where it starts in the whole script
    column: int
    offset: int  # character offset in the whole script
    kind: str
    non_transactional: str | None
    refused: str | None
    destructive: str | None
    creates: tuple[RelationName, ...]
    concurrent_index: ConcurrentIndex | None
    tree: dict = field(repr=False, compare=False)  # the parse tree (libpg_query JSON)

    @cached_property
    def relations(self) -> tuple[RelationName, ...]:
        """Existing relations it reads, changes or drops (schema-qualified when the SQL qualifies them)."""
        return relations_of(self.kind, self.tree)

    @property
    def transactional(self) -> bool:
        return self.non_transactional is None

    @property
    def number(self) -> int:
        """1-based, as people count statements."""
        return self.index + 1


@dataclass(frozen=True)
class Step:
    number: int  # 1-based
    statements: tuple[Statement, ...]
    transactional: bool

    @property
    def checksum(self) -> str:
        return checksum(";\n".join(s.text for s in self.statements))

    @property
    def label(self) -> str:
        first, last = self.statements[0].number, self.statements[-1].number
        return f"statement {first}" if first == last else f"statements {first}-{last}"


@dataclass(frozen=True)
class Plan:
    sql: str
    checksum: str
    statements: tuple[Statement, ...]
    steps: tuple[Step, ...]

    @property
    def refused(self) -> tuple[Statement, ...]:
        return tuple(s for s in self.statements if s.refused)

    @property
    def all_transactional(self) -> bool:
        return all(s.transactional for s in self.statements)

    @property
    def relations(self) -> tuple[RelationName, ...]:
        """Every relation the script names that it does not create first, in order of first mention."""
        seen: dict[RelationName, None] = {}
        created: set[RelationName] = set()
        for statement in self.statements:
            seen.update((r, None) for r in statement.relations if r not in created)
            created.update(statement.creates)
        return tuple(seen)


def statement_from(piece: Piece) -> Statement:
    facts = classify(piece.kind, piece.tree)
    return Statement(
        index=piece.index,
        text=piece.text,
        line=piece.line,
        column=piece.column,
        offset=piece.offset,
        kind=facts.kind,
        non_transactional=facts.non_transactional,
        refused=facts.refused,
        destructive=facts.destructive,
        creates=facts.creates,
        concurrent_index=facts.concurrent_index,
        tree=piece.tree,
    )


def group_steps(statements: tuple[Statement, ...]) -> tuple[Step, ...]:
    steps: list[Step] = []
    batch: list[Statement] = []
    for statement in statements:
        if statement.transactional:
            batch.append(statement)
            continue
        if batch:
            steps.append(Step(len(steps) + 1, tuple(batch), True))
            batch = []
        steps.append(Step(len(steps) + 1, (statement,), False))
    if batch:
        steps.append(Step(len(steps) + 1, tuple(batch), True))
    return tuple(steps)


def build_plan(sql: str) -> Plan:
    """Parse and group `sql`; raises parse.SqlSyntaxError when it does not parse, ValueError when empty."""
    statements = tuple(statement_from(piece) for piece in split_sql(sql))
    if not statements:
        raise ValueError("The migration has no statements.")
    return Plan(sql=sql, checksum=checksum(sql), statements=statements, steps=group_steps(statements))
