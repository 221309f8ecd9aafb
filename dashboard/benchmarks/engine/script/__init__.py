"""pgbench's script language (a subset): parsing, checking and compiling to fast steps.

A script is one transaction: SQL statements ending with `;` (several lines each if
needed), `\\set name expression` and `\\sleep n [us|ms|s]`. Expressions have integers,
doubles, `:variables`, `+ - * / %`, parentheses and the functions in FUNCTIONS, with
pgbench's semantics (integer division truncates, int64 overflow is an error, and the
random functions check their arguments with pgbench's rules and messages).

`:name` inside SQL becomes a bind parameter `$n` (never text pasted into SQL); `::` casts,
string literals, quoted identifiers and comments are left alone. Every error names its
line: `ScriptError("line 3: ...")`.

    model.py        Script and its commands, ScriptError, the step kinds
    parser.py       the script's text -> Script (statements, \\set, \\sleep, weights)
    expressions.py  \\set expressions -> a tree (tokens, recursive descent)
    functions.py    the \\set functions and pgbench's integer/double arithmetic
    compiler.py     a tree -> a closure over the client's variables; Script -> CompiledScript steps
"""

from .compiler import EVALUATION_ERRORS, CompiledScript, compile_expression, compile_script
from .expressions import parse_expression
from .functions import FUNCTIONS
from .model import (
    PRESET_VARIABLES,
    SLEEP_UNITS_NS,
    STEP_SET,
    STEP_SLEEP,
    STEP_SQL,
    Script,
    ScriptError,
    SetCommand,
    SleepCommand,
    SqlCommand,
)
from .parser import parse_script, split_weight, substitute_variables

__all__ = [
    "EVALUATION_ERRORS",
    "FUNCTIONS",
    "PRESET_VARIABLES",
    "SLEEP_UNITS_NS",
    "STEP_SET",
    "STEP_SLEEP",
    "STEP_SQL",
    "CompiledScript",
    "Script",
    "ScriptError",
    "SetCommand",
    "SleepCommand",
    "SqlCommand",
    "compile_expression",
    "compile_script",
    "parse_expression",
    "parse_script",
    "split_weight",
    "substitute_variables",
]
