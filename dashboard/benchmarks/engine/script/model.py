"""What a parsed script is made of, and the error every part of the language raises."""

from dataclasses import dataclass, field

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
