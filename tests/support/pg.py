"""The local Postgres server started by scripts/services.sh, used as the "computes" of tests.

Tests create throwaway databases on it; nothing here is mocked.
"""

import os
import uuid

import psycopg
from django.conf import settings
from psycopg import sql

from dashboard.demo import local_pg


def server() -> dict:
    db = settings.DATABASES["default"]
    return {
        "host": db["HOST"],
        "port": int(db["PORT"] or 5432),
        "user": db["USER"],
        "password": db["PASSWORD"],
    }


def admin_conninfo(dbname: str = "postgres") -> dict:
    return {**server(), "dbname": dbname}


def url_for(dbname: str, *, user: str | None = None, password: str | None = None) -> str:
    s = server()
    return f"postgresql://{user or s['user']}:{password or s['password']}@{s['host']}:{s['port']}/{dbname}"


def admin_connect(dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(**admin_conninfo(dbname), autocommit=True)


def create_database(
    prefix: str = "t", *, template: str | None = None, extensions=("pg_stat_statements",)
) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin_connect() as conn:
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        conn.execute(query)
    if extensions and not template:
        with admin_connect(name) as conn:
            for ext in extensions:
                conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext)))
    return name


def drop_database(name: str) -> None:
    with admin_connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def psql_env() -> dict:
    s = server()
    return {
        **os.environ,
        "PGHOST": s["host"],
        "PGPORT": str(s["port"]),
        "PGUSER": s["user"],
        "PGPASSWORD": s["password"],
    }


def load_pagila(dbname: str) -> None:
    """Load the Pagila sample schema and data shipped in dashboard/demo/pagila/ (about 2 s)."""
    local_pg.load_pagila(dbname, psql_env())
