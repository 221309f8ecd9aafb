"""The local Postgres of `make services` as the perf scripts reach it, and a fresh database on it."""

import os

import psycopg
from psycopg import sql


def server() -> dict:
    return {
        "host": "127.0.0.1",
        "port": int(os.environ.get("LOCAL_PG_PORT", "54320")),
        "user": "postgres",
        "password": os.environ.get("LOCAL_PG_PASSWORD", "postgres"),
    }


def url_for(dbname: str) -> str:
    s = server()
    return f"postgresql://{s['user']}:{s['password']}@{s['host']}:{s['port']}/{dbname}"


def drop_database(dbname: str) -> None:
    with psycopg.connect(**server(), dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def recreate_database(dbname: str) -> str:
    """Drop and create `dbname`; returns its URL."""
    drop_database(dbname)
    with psycopg.connect(**server(), dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return url_for(dbname)
