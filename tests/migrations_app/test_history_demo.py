"""The demo shows the history on first start: three tools' tables in pagila, read at load, a failed Prisma finding."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from migrations_app.history.models import MigrationHistoryRead
from tests.migrations_app.history_fixtures import page
from tests.projects.test_demo_and_state import demo_db_name  # noqa: F401  (a fixture)

FAILED = "20240402101500_rental_late_fee_not_null"


@pytest.fixture
def demo(db, demo_db_name, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr("dashboard.demo.setup.LOGINS_FILE", tmp_path / "logins.txt")
    call_command("load_demo")
    call_command("load_demo")  # running it again adds nothing
    return demo_db_name


def test_the_demo_timeline_and_finding_show_on_first_start(client, demo):
    [stored] = MigrationHistoryRead.objects.filter(project__slug="pagila")
    assert stored.tool_tables == 3 and [f["key"] for f in stored.problems] == [FAILED]
    client.force_login(get_user_model().objects.get(username="viewer"))
    html = page(client, "/projects/pagila/migrations/")
    for shown in (FAILED, "20240301090000_init", "store revenue summary", "staff_portal.0002_shift_notes"):
        assert shown in html
    assert "failed</span>" in html
    overview = page(client, "/projects/pagila/")
    assert "Migrations of other tools" in overview and "1 failed or dirty" in overview
