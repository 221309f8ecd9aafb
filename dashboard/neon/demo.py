"""The `pagila-neon` demo project, backed by the local Neon API stand-in.

`make run` (scripts/run.sh) calls `manage.py neon_demo prepare` before starting
the stand-in and `manage.py neon_demo register` once it answers.
"""

import secrets
import time
from pathlib import Path

import psycopg
from django.conf import settings
from psycopg import sql

from dashboard.demo.setup import demo_database, server_conninfo, server_url
from dashboard.models import Project, Team
from dashboard.neon.client import NeonAPIError
from dashboard.neon.sync import client_for, sync_project

STANDIN_PROJECT_ID = "pagila-neon"
STANDIN_DATABASE = "pagila_neon"
PROJECT_SLUG = "pagila-neon"
PROJECT_NAME = "pagila-neon (local Neon stand-in)"
KEY_FILE = Path(settings.BASE_DIR) / "var" / "neon-standin.key"


def admin_url() -> str:
    return server_url("postgres")


def ensure_api_key() -> str:
    if not KEY_FILE.exists():
        KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
        KEY_FILE.write_text(secrets.token_urlsafe(24))
        KEY_FILE.chmod(0o600)
    return KEY_FILE.read_text().strip()


def ensure_database() -> bool:
    """Copy the Pagila demo database into `pagila_neon` (the stand-in's default branch) once."""
    with psycopg.connect(**server_conninfo("postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [STANDIN_DATABASE]).fetchone():
            return False
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [demo_database()],
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(STANDIN_DATABASE), sql.Identifier(demo_database())
            )
        )
    return True


def register(team_slug: str = "demo", wait_seconds: float = 15.0) -> Project:
    """Create or update the demo project against the running stand-in, then sync its branches."""
    team = Team.objects.get(slug=team_slug)
    key = ensure_api_key()
    project = Project.objects.filter(slug=PROJECT_SLUG).first() or Project(slug=PROJECT_SLUG, team=team)
    project.name = PROJECT_NAME
    project.neon_project_id = STANDIN_PROJECT_ID
    project.neon_api_key = key
    project.pooled_url = _default_branch_uri(project, wait_seconds)
    project.save()
    sync_project(project)
    return project


def _default_branch_uri(project: Project, wait_seconds: float) -> str:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with client_for(project) as client:
                return client.connection_uri(
                    STANDIN_PROJECT_ID,
                    branch_id="",
                    database_name=STANDIN_DATABASE,
                    role_name=server_conninfo("postgres")["user"],
                    pooled=True,
                )
        except NeonAPIError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.3)
