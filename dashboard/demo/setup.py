"""Idempotent demo set-up: running it again changes nothing that is already there."""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.conf import settings
from django.contrib.auth import get_user_model
from psycopg import sql

from dashboard.common import audit
from dashboard.demo.local_pg import load_pagila
from dashboard.models import Membership, Project, Role, Team
from migrations_app.demo import ensure_demo_migration
from migrations_app.history.demo import ensure_demo_history

# VAR_DIR as in scripts/services.sh, so a second set of servers keeps its own logins file.
LOGINS_FILE = Path(os.environ.get("VAR_DIR") or Path(settings.BASE_DIR) / "var") / "demo-logins.txt"
DEMO_USERS = (("admin", Role.ADMIN), ("engineer", Role.ENGINEER), ("viewer", Role.VIEWER))
DEMO_DATABASE = "pagila"  # overridable for tests through settings.DEMO_DATABASE_NAME


@dataclass
class DemoResult:
    password: str
    password_is_new: bool
    project: Project
    pagila_loaded: bool


def server_conninfo(dbname: str) -> dict:
    db = settings.DATABASES["default"]
    return {
        "host": db["HOST"],
        "port": db["PORT"] or 5432,
        "user": db["USER"],
        "password": db["PASSWORD"],
        "dbname": dbname,
    }


def server_url(dbname: str) -> str:
    c = server_conninfo(dbname)
    return f"postgresql://{c['user']}:{c['password']}@{c['host']}:{c['port']}/{dbname}"


def demo_password() -> tuple[str, bool]:
    """DEMO_PASSWORD if set; otherwise the one generated on an earlier run; otherwise a new one."""
    if settings.DEMO_PASSWORD:
        return settings.DEMO_PASSWORD, False
    if LOGINS_FILE.exists():
        for line in LOGINS_FILE.read_text().splitlines():
            if line.startswith("password: "):
                return line.removeprefix("password: ").strip(), False
    return secrets.token_urlsafe(12), True


def ensure_users(team: Team, password: str, reset_password: bool) -> None:
    User = get_user_model()
    for username, role in DEMO_USERS:
        user, created = User.objects.get_or_create(username=username)
        if created or reset_password:
            user.set_password(password)
            user.save()
        Membership.objects.update_or_create(team=team, user=user, defaults={"role": role})


def demo_database() -> str:
    return getattr(settings, "DEMO_DATABASE_NAME", DEMO_DATABASE)


def ensure_pagila() -> bool:
    """Create and load the pagila database unless it exists. Returns True if it was loaded now."""
    name = demo_database()
    with psycopg.connect(**server_conninfo("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conninfo = server_conninfo(name)
    env = {
        "PGHOST": conninfo["host"],
        "PGPORT": str(conninfo["port"]),
        "PGUSER": conninfo["user"],
        "PGPASSWORD": conninfo["password"],
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    load_pagila(name, env)
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("ANALYZE")
    return True


def ensure_project(team: Team) -> Project:
    project = Project.objects.filter(slug="pagila").first()
    if project is None:
        project = Project.objects.create(
            team=team, name="pagila", slug="pagila", pooled_url=server_url(demo_database())
        )
        audit.record(None, "project.create", project=project, obj=project, via="load_demo")
    return project


def write_logins(password: str) -> None:
    LOGINS_FILE.parent.mkdir(parents=True, exist_ok=True)
    users = ", ".join(name for name, _ in DEMO_USERS)
    LOGINS_FILE.write_text(f"Demo logins (team demo): {users}\npassword: {password}\n")
    LOGINS_FILE.chmod(0o600)


def load_demo() -> DemoResult:
    team, _ = Team.objects.get_or_create(slug="demo", defaults={"name": "demo"})
    password, is_new = demo_password()
    ensure_users(team, password, reset_password=is_new or bool(settings.DEMO_PASSWORD))
    loaded = ensure_pagila()
    project = ensure_project(team)
    ensure_demo_history(project, server_conninfo(demo_database()))
    write_logins(password)
    ensure_demo_migration(project)
    return DemoResult(password=password, password_is_new=is_new, project=project, pagila_loaded=loaded)
