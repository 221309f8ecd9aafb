"""Shared fixtures: real local Postgres databases as targets, teams and users per role."""

import pytest
from django.contrib.auth import get_user_model

from dashboard.models import Membership, Project, Role, Team
from tests.support import embedded_pg, pg

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def target_db():
    """A fresh, empty database with pg_stat_statements; dropped after the test."""
    name = pg.create_database("target")
    yield name
    pg.drop_database(name)


@pytest.fixture(scope="session")
def pagila_template(django_db_blocker):
    """Pagila loaded once per session; tests clone it with CREATE DATABASE ... TEMPLATE."""
    name = pg.create_database("pagila_tpl")
    pg.load_pagila(name)
    with pg.admin_connect(name) as conn:
        conn.execute("ANALYZE")
    yield name
    pg.drop_database(name)


@pytest.fixture
def pagila_db(pagila_template):
    name = pg.create_database("pagila", template=pagila_template)
    yield name
    pg.drop_database(name)


@pytest.fixture(scope="session")
def embedded_pg_servers():
    """embedded_pg_servers(17) -> that major's server, started on first use, stopped at session end."""
    servers = {}

    def server_for(major: int) -> embedded_pg.EmbeddedServer:
        if major not in servers:
            servers[major] = embedded_pg.start_server(major)
        return servers[major]

    yield server_for
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def pg17(embedded_pg_servers):
    """A Postgres 17 server for the whole session (tests create their own databases on it)."""
    return embedded_pg_servers(17)


@pytest.fixture(scope="session")
def local_pg_server():
    return embedded_pg.LocalServer()


@pytest.fixture
def pg_any_server(pg_major, local_pg_server, embedded_pg_servers):
    """The server of `pg_major`: the local one of scripts/services.sh for its own major, else embedded.

    Use with @pytest.mark.parametrize("pg_major", [15, 17]).
    """
    if pg_major == local_pg_server.major:
        return local_pg_server
    return embedded_pg_servers(pg_major)


def make_user(username: str):
    return get_user_model().objects.create_user(username=username, password=PASSWORD)


@pytest.fixture
def team(db):
    return Team.objects.create(name="Acme", slug="acme")


@pytest.fixture
def other_team(db):
    return Team.objects.create(name="Other", slug="other")


@pytest.fixture
def users(team, other_team):
    """One user per role in `team`, one admin of another team, and one with no team."""
    result = {}
    for role in (Role.VIEWER, Role.ENGINEER, Role.ADMIN):
        user = make_user(role.value)
        Membership.objects.create(team=team, user=user, role=role)
        result[role.value] = user
    outsider = make_user("outsider")
    Membership.objects.create(team=other_team, user=outsider, role=Role.ADMIN)
    result["other_team"] = outsider
    result["no_team"] = make_user("loner")
    return result


@pytest.fixture
def project(team, target_db):
    return Project.objects.create(team=team, name="Shop", slug="shop", pooled_url=pg.url_for(target_db))


@pytest.fixture
def client_for(client, users):
    """client_for('admin') -> a test client logged in with that role (None: anonymous)."""

    def login(who):
        client.logout()
        if who is not None:
            client.force_login(users[who])
        return client

    return login


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker process consuming from the test Redis database."""
    from tests.support.celery_worker import start_worker, stop_worker

    proc = start_worker()
    yield proc
    stop_worker(proc)


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):
    """Poll until predicate() is truthy; returns its value or fails with a clear message."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
