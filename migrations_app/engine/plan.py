"""A migration script as the applier will run it: statements and the steps they are grouped into.

Consecutive transactional statements form one step (one transaction, recorded
with the step's history row); each non-transactional statement is a step of its own.
"""

from dataclasses import dataclass

from .classify import ConcurrentIndex, Facts, RelationName, classify, relations_of, statements_that_may_matter
from .fast import frozen_instance, lazy
from .parse import LineIndex, checksum, parse_tree, parse_trees, split_sql


@dataclass(frozen=True)
class Statement:
    """One statement of the script; what it is comes from its parse tree, read the first time it is asked.

    Lint asks only whether it runs alone, is refused or is destructive, and most statements show by
    their words alone that they are none of these (classify.may_matter), so long scripts lint fast.
    """

    index: int  # 0-based position in the script
    text: str  # exactly as written, without the trailing semicolon
    line: int  # 1-based line where it starts in the whole script
    column: int
    offset: int  # character offset in the whole script
    may_matter: bool = True  # False: its words show it runs in a transaction, is allowed and harmless

    @property
    def number(self) -> int:
        """1-based, as people count statements."""
        return self.index + 1

    @lazy
    def tree(self) -> tuple[str, dict]:
        """(node name, fields) from libpg_query's JSON parse tree."""
        return parse_tree(self.text)

    @lazy
    def facts(self) -> Facts:
        return classify(*self.tree)

    @property
    def kind(self) -> str:
        return self.facts.kind  # the parse node's name, e.g. "IndexStmt"

    @property
    def non_transactional(self) -> str | None:
        """Why it must run outside a transaction block (None: it runs inside one)."""
        return self.facts.non_transactional if self.may_matter else None

    @property
    def refused(self) -> str | None:
        return self.facts.refused if self.may_matter else None

    @property
    def destructive(self) -> str | None:
        return self.facts.destructive if self.may_matter else None

    @property
    def transactional(self) -> bool:
        return self.non_transactional is None

    @property
    def creates(self) -> tuple[RelationName, ...]:
        return self.facts.creates

    @property
    def concurrent_index(self) -> ConcurrentIndex | None:
        return self.facts.concurrent_index if self.may_matter else None

    @lazy
    def relations(self) -> tuple[RelationName, ...]:
        """Existing relations it reads, changes or drops (schema-qualified when the SQL qualifies them)."""
        return relations_of(*self.tree)


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

    @lazy
    def lines(self) -> LineIndex:
        """Where each line of the script starts (build_plan keeps the one the splitter used)."""
        return LineIndex(self.sql)

    def read_trees(self) -> None:
        """Parse, in one parser call, every statement whose tree is not read yet: first thing before asking
        all statements for their kind or relations (one call per statement costs several times more)."""
        _read_trees_together([s for s in self.statements if "tree" not in s.__dict__])

    @lazy
    def relations(self) -> tuple[RelationName, ...]:
        """Every relation the script names that it does not create first, in order of first mention."""
        self.read_trees()
        seen: dict[RelationName, None] = {}
        created: set[RelationName] = set()
        for statement in self.statements:
            seen.update((r, None) for r in statement.relations if r not in created)
            created.update(statement.creates)
        return tuple(seen)


def group_steps(statements: tuple[Statement, ...], alone: list[int] | None = None) -> tuple[Step, ...]:
    """Runs of transactional statements, each a step, and each non-transactional statement a step alone.

    `alone`: the indexes of the non-transactional statements in order, when the caller knows them
    already (build_plan does); the statements between them are then sliced, not visited one by one.
    """
    if alone is None:
        alone = [s.index for s in statements if not s.transactional]
    steps: list[Step] = []

    def add(members: tuple[Statement, ...], transactional: bool) -> None:
        steps.append(
            frozen_instance(Step, number=len(steps) + 1, statements=members, transactional=transactional)
        )

    begin = 0
    for index in alone:
        if index > begin:
            add(statements[begin:index], True)
        add(statements[index : index + 1], False)
        begin = index + 1
    if begin < len(statements):
        add(statements[begin:], True)
    return tuple(steps)


def _read_trees_together(statements: list[Statement]) -> None:
    """Parse `statements` in one parser call, filling their cached `tree`."""
    if not statements:
        return
    for statement, tree in zip(statements, parse_trees([s.text for s in statements]), strict=True):
        statement.__dict__["tree"] = tree  # where `lazy` keeps its value


def build_plan(sql: str) -> Plan:
    """Parse and group `sql`; raises parse.SqlSyntaxError when it does not parse, ValueError when empty.

    The script is parsed once whole (to split it and find any syntax error); only the statements whose
    words may matter are parsed again, together, into trees: decoding every tree would cost more than
    the whole parse.
    """
    lines = LineIndex(sql)
    statements = tuple(split_sql(sql, record=Statement, lines=lines))
    if not statements:
        raise ValueError("The migration has no statements.")
    matter = statements_that_may_matter(sql, [s.offset for s in statements])
    looked_into = []
    for statement in statements:  # not yet seen by anyone; may_matter defaults to True
        if statement.index in matter:
            looked_into.append(statement)
        else:
            statement.__dict__["may_matter"] = False
    _read_trees_together(looked_into)
    alone = [s.index for s in looked_into if s.non_transactional is not None]
    steps = group_steps(statements, alone)
    plan = Plan(sql=sql, checksum=checksum(sql), statements=statements, steps=steps)
    plan.__dict__["lines"] = lines  # where `lazy` keeps its value
    return plan
