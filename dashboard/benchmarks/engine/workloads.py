"""pgbench's built-in workloads and its tables, initialised like `pgbench -i` into one schema.

The scripts are pgbench's own texts (src/bin/pgbench/pgbench.c, builtin_script). The tables
and rows are pgbench's: branches = scale, tellers = 10 x scale, accounts = 100,000 x scale,
an empty history, generated server-side (`pgbench -i -I dtGvp`). Everything lives in one
schema (`neon_ops_bench` by default) so a run on plain Postgres never touches the user's
tables and `drop_schema` removes every trace.
"""

from dataclasses import dataclass

import psycopg
from psycopg import sql

from dashboard.targets.marker import mark

from .script import Script, ScriptError, parse_script, split_weight

DEFAULT_SCHEMA = "neon_ops_bench"
MAX_SCALE = 1000  # 100 million accounts; pgbench switches aid to bigint from 20,000
WHAT = "bench-setup"  # setup is the dashboard's own traffic (targets/marker.py)

# pgbench's texts, assembled from their shared lines.
_HEAD = """\
\\set aid random(1, 100000 * :scale)
\\set bid random(1, 1 * :scale)
\\set tid random(1, 10 * :scale)
\\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
"""
_HISTORY = """\
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
"""
_TELLERS_BRANCHES = """\
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
"""
TPCB_LIKE = "".join((_HEAD, _TELLERS_BRANCHES, _HISTORY))
SIMPLE_UPDATE = "".join((_HEAD, _HISTORY))

SELECT_ONLY = """\
\\set aid random(1, 100000 * :scale)
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
"""


@dataclass(frozen=True)
class BuiltinWorkload:
    name: str
    text: str
    writes: bool


BUILTINS = {
    w.name: w
    for w in (
        BuiltinWorkload("tpcb-like", TPCB_LIKE, writes=True),
        BuiltinWorkload("simple-update", SIMPLE_UPDATE, writes=True),
        BuiltinWorkload("select-only", SELECT_ONLY, writes=False),
    )
}


def builtin_script(spec: str) -> Script:
    """`select-only`, `tpcb-like@3` ... (pgbench's `-b name@weight`) as a parsed Script."""
    name, weight = split_weight(spec)
    if name not in BUILTINS:
        raise ScriptError(f"unknown built-in workload {name!r} (known: {', '.join(BUILTINS)})")
    return parse_script(BUILTINS[name].text, name=name, weight=weight)


# --- initialisation ------------------------------------------------------------------------

TABLES = (
    ("pgbench_history", "tid int, bid int, aid int, delta int, mtime timestamp, filler char(22)"),
    ("pgbench_tellers", "tid int not null, bid int, tbalance int, filler char(84)"),
    ("pgbench_accounts", "aid int not null, bid int, abalance int, filler char(84)"),
    ("pgbench_branches", "bid int not null, bbalance int, filler char(88)"),
)
ROWS = (
    ("pgbench_branches", "bid, bbalance", "bid, 0 FROM generate_series(1, {scale}) AS bid"),
    (
        "pgbench_tellers",
        "tid, bid, tbalance",
        "tid, (tid - 1) / 10 + 1, 0 FROM generate_series(1, {tellers}) AS tid",
    ),
    (
        "pgbench_accounts",
        "aid, bid, abalance, filler",
        "aid, (aid - 1) / 100000 + 1, 0, '' FROM generate_series(1, {accounts}) AS aid",
    ),
)
PRIMARY_KEYS = (("pgbench_branches", "bid"), ("pgbench_tellers", "tid"), ("pgbench_accounts", "aid"))


def check_scale(scale: int) -> int:
    if not isinstance(scale, int) or isinstance(scale, bool) or not 1 <= scale <= MAX_SCALE:
        raise ValueError(f"scale must be a whole number from 1 to {MAX_SCALE}")
    return scale


def _execute(conn: psycopg.Connection, template: str, *identifiers: sql.Composable) -> psycopg.Cursor:
    """A setup statement, marked as the dashboard's own, with identifiers quoted by psycopg."""
    return conn.execute(sql.SQL(mark(template, WHAT)).format(*identifiers))


def initialise(conn: psycopg.Connection, scale: int, schema: str = DEFAULT_SCHEMA) -> None:
    """Create pgbench's four tables in `schema` (replacing earlier ones) and fill them for `scale`.

    `conn` is an autocommit connection; the tables are built in one transaction so a
    failure leaves the previous state, then vacuumed and analysed like pgbench does.
    """
    check_scale(scale)
    counts = {"scale": scale, "tellers": 10 * scale, "accounts": 100_000 * scale}
    with conn.transaction():
        _execute(conn, "CREATE SCHEMA IF NOT EXISTS {}", sql.Identifier(schema))
        for table, columns in TABLES:
            _execute(conn, "DROP TABLE IF EXISTS {}", sql.Identifier(schema, table))
            _execute(conn, f"CREATE TABLE {{}} ({columns})", sql.Identifier(schema, table))
        for table, columns, select in ROWS:
            template = f"INSERT INTO {{}} ({columns}) SELECT {select.format(**counts)}"  # noqa: S608 - constants
            _execute(conn, template, sql.Identifier(schema, table))
    for table, _ in TABLES:
        _execute(conn, "VACUUM (ANALYZE) {}", sql.Identifier(schema, table))
    for table, column in PRIMARY_KEYS:
        _execute(
            conn, "ALTER TABLE {} ADD PRIMARY KEY ({})", sql.Identifier(schema, table), sql.Identifier(column)
        )


def drop_schema(conn: psycopg.Connection, schema: str = DEFAULT_SCHEMA) -> None:
    _execute(conn, "DROP SCHEMA IF EXISTS {} CASCADE", sql.Identifier(schema))


def detect_scale(conn: psycopg.Connection, schema: str = DEFAULT_SCHEMA) -> int:
    """pgbench's own way: the number of branches."""
    return int(
        _execute(conn, "SELECT count(*) FROM {}", sql.Identifier(schema, "pgbench_branches")).fetchone()[0]
    )
