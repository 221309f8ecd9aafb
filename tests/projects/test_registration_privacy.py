"""Registering a project says nothing about other teams' projects."""

import re

import pytest

from dashboard.models import Project
from tests.support import pg

pytestmark = pytest.mark.django_db


def flash(response) -> str:
    text = response.content.decode()
    return " ".join(re.findall(r'<li class="msg[^"]*">(.*?)</li>', text))


def errors(response) -> str:
    return " ".join(
        re.findall(r'class="error" role="alert">(?:<p>)?(.*?)</p>', response.content.decode(), re.S)
    )


@pytest.fixture
def secret_project(other_team, target_db):
    """Another team's project, whose name and slug acme must not learn."""
    return Project.objects.create(
        team=other_team, name="Secret Plan", slug="secret-plan", pooled_url=pg.url_for(target_db)
    )


def register(client, team, target_db, **fields):
    data = {"team": team.pk, "pooled_url": pg.url_for(target_db), **fields}
    return client.post("/projects/new/", data, follow=True)


def test_a_name_another_team_uses_registers_like_any_other(client_for, team, target_db, secret_project):
    admin = client_for("admin")
    taken = register(admin, team, target_db, name="Secret Plan")
    free = register(admin, team, target_db, name="Open Plan")
    assert taken.status_code == free.status_code == 200
    assert flash(taken).replace("Secret Plan", "X") == flash(free).replace("Open Plan", "X")
    assert "already exists" not in taken.content.decode()
    ours = Project.objects.get(team=team, name="Secret Plan")
    assert ours.slug != "secret-plan" and ours.slug.startswith("secret-plan-")
    assert Project.objects.get(pk=secret_project.pk).team_id != team.pk


def test_a_taken_slug_gets_one_message_whoever_has_it(client_for, team, target_db, secret_project, project):
    admin = client_for("admin")
    elsewhere = register(admin, team, target_db, name="Mine", slug="secret-plan")
    own = register(admin, team, target_db, name="Mine too", slug="shop")  # acme's own project
    assert errors(elsewhere) == errors(own)
    assert "not available" in errors(own)
    assert "already exists" not in elsewhere.content.decode()
    assert not Project.objects.filter(name__in=["Mine", "Mine too"]).exists()


def test_a_name_taken_in_the_own_team_is_still_refused_clearly(client_for, team, target_db, project):
    response = register(client_for("admin"), team, target_db, name="Shop")
    assert Project.objects.filter(team=team, name="Shop").count() == 1
    assert "Team and Name already exists" in errors(response)
