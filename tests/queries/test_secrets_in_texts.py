"""Secrets in statement texts: masked for everyone before storing; remaining literals hidden from viewers.

pg_stat_statements keeps utility statements verbatim, so real ALTER ROLE, CREATE USER MAPPING and
CREATE TABLE ... DEFAULT statements run here bring their passwords and literals along.
"""

import importlib
import uuid
from datetime import timedelta

import psycopg
import pytest
from django.apps import apps
from django.utils import timezone
from psycopg import sql

from dashboard.api.tokens import create_token
from dashboard.introspection.redaction import redact_secrets
from dashboard.models import QueryText
from dashboard.queries.collector import collect_project
from tests.queries.conftest import run_workload
from tests.support import pg

pytestmark = pytest.mark.django_db

SECRET = "hunter2-Secret"
LITERAL = "note-literal-xyz"


@pytest.fixture
def secret_workload(project, target_db, target_url):
    """Real statements with a password and a literal, collected twice (baseline, then deltas)."""
    role = f"app_{uuid.uuid4().hex[:8]}"
    collect_project(project, now=timezone.now() - timedelta(minutes=10))
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), SECRET + "-1"))
        conn.execute(sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(sql.Identifier(role), SECRET + "-2"))
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgres_fdw")
        conn.execute("CREATE SERVER other FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db.internal')")
        conn.execute(
            sql.SQL("CREATE USER MAPPING FOR {} SERVER other OPTIONS (user 'bob', password {})").format(
                sql.Identifier(role), SECRET + "-3"
            )
        )
        conn.execute(f"CREATE TABLE noted (id int, note text DEFAULT '{LITERAL}')")
    run_workload(target_url, {"SELECT name FROM items WHERE id = %s": 2})
    collect_project(project, now=timezone.now() - timedelta(minutes=5))
    yield project
    with pg.admin_connect(target_db) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.mark.parametrize(
    "text,shown",
    [
        ("ALTER ROLE app WITH LOGIN PASSWORD 's3cr''et' VALID UNTIL 'infinity'",
         "ALTER ROLE app WITH LOGIN PASSWORD '********' VALID UNTIL 'infinity'"),
        ('alter user "Bob" encrypted password \'x\'', 'alter user "Bob" encrypted password \'********\''),
        ("CREATE USER u PASSWORD E'es\\'caped' LOGIN", "CREATE USER u PASSWORD '********' LOGIN"),
        ("CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db', password 'pw')",
         "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db', password '********')"),
        ("ALTER SERVER s OPTIONS (SET password 'pw')", "ALTER SERVER s OPTIONS (SET password '********')"),
        ("ALTER USER MAPPING FOR app SERVER s OPTIONS (ADD password 'pw')",
         "ALTER USER MAPPING FOR app SERVER s OPTIONS (ADD password '********')"),
        ("CREATE SUBSCRIPTION sub CONNECTION 'host=x password=pw' PUBLICATION p",
         "CREATE SUBSCRIPTION sub CONNECTION '********' PUBLICATION p"),
        ("ALTER ROLE app PASSWORD $$dollar$$", "ALTER ROLE app PASSWORD '********'"),
        # pglast cannot parse these (cut short; not Postgres syntax): masked conservatively.
        ("ALTER ROLE app PASSWORD 'cut short", "ALTER ROLE app PASSWORD '********'"),
        ("FUTURE ROLE app PASSWORD 'pw' SYNTAX", "FUTURE ROLE app PASSWORD '********' SYNTAX"),
        ("SELECT name FROM items WHERE id = $1", "SELECT name FROM items WHERE id = $1"),
        ("ALTER ROLE app PASSWORD NULL", "ALTER ROLE app PASSWORD NULL"),
    ],
)  # fmt: skip
def test_secrets_are_masked(text, shown):
    assert redact_secrets(text) == shown


def test_passwords_are_never_stored_nor_shown_to_anyone(client_for, secret_workload, users):
    assert not QueryText.objects.filter(text__contains=SECRET).exists()
    assert not QueryText.objects.filter(viewer_text__contains=SECRET).exists()
    mapping = QueryText.objects.get(project=secret_workload, text__startswith="CREATE USER MAPPING")
    assert "password '********'" in mapping.text and "'bob'" in mapping.text
    for who in ("viewer", "engineer", "admin"):
        client = client_for(who)
        body = client.get("/projects/shop/queries/?window=1h").content.decode()
        assert "ALTER ROLE" in body and SECRET not in body
        detail = client.get(f"/projects/shop/queries/{mapping.queryid}/?window=1h").content.decode()
        assert "CREATE USER MAPPING" in detail and SECRET not in detail
    _, raw = create_token(secret_workload.team, "ci", created_by=users["admin"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert SECRET not in client_for(None).get("/api/v1/projects/shop/health", **auth).content.decode()
    assert SECRET not in client_for(None).get("/metrics", **auth).content.decode()


def test_literals_are_hidden_from_viewers_on_every_page_and_in_the_filter(client_for, secret_workload):
    noted = QueryText.objects.get(project=secret_workload, text__startswith="CREATE TABLE noted")
    viewer = client_for("viewer")
    body = viewer.get("/projects/shop/queries/?window=1h").content.decode()
    assert "CREATE TABLE noted" in body and LITERAL not in body and "DEFAULT ?" in body
    detail = viewer.get(f"/projects/shop/queries/{noted.queryid}/").content.decode()
    assert LITERAL not in detail and "hidden from viewers" in detail
    response = viewer.post(f"/projects/shop/queries/{noted.queryid}/explain/", {"mode": "plain"})
    assert LITERAL not in response.content.decode()
    # The filter searches what viewers see: it cannot confirm a hidden literal.
    found = viewer.get(f"/projects/shop/queries/?window=1h&q={LITERAL[:8]}").content.decode()
    assert "CREATE TABLE noted" not in found and "match the filters" in found
    assert (
        "CREATE TABLE noted" in viewer.get("/projects/shop/queries/?window=1h&q=DEFAULT+%3F").content.decode()
    )
    engineer = client_for("engineer")
    body = engineer.get(f"/projects/shop/queries/?window=1h&q={LITERAL[:8]}").content.decode()
    assert "CREATE TABLE noted" in body and LITERAL in body
    assert LITERAL in engineer.get(f"/projects/shop/queries/{noted.queryid}/").content.decode()


def test_texts_stored_before_are_redacted_by_the_data_migration(project):
    leaked = QueryText.objects.create(project=project, queryid=77, text=f"ALTER ROLE app PASSWORD '{SECRET}'")
    plain = QueryText.objects.create(project=project, queryid=78, text="SELECT name FROM items WHERE id = $1")
    migration = importlib.import_module("dashboard.migrations.0007_queries_redacted_texts")
    migration.redact_stored_texts(apps, None)
    leaked.refresh_from_db()
    plain.refresh_from_db()
    assert (
        leaked.text == "ALTER ROLE app PASSWORD '********'"
        and leaked.viewer_text == "ALTER ROLE app PASSWORD ?"
    )
    assert (plain.text, plain.viewer_text) == ("SELECT name FROM items WHERE id = $1", "")
