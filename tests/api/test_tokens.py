"""API tokens: listed without the secret, revoked by a team admin (audited), refused at once after."""

import io

import pytest
from django.core.management import CommandError, call_command

from dashboard.models import ApiToken, AuditEvent

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def raw_token(users, team, project):
    return run("create_api_token", "--team", "acme", "--user", "admin", "--name", "alerts").strip()


def test_list_shows_tokens_without_the_secret(raw_token, other_team):
    token = ApiToken.objects.get()
    listing = run("list_api_tokens", "--team", "acme")
    assert f"{token.pk}\t{token.prefix}…\talerts\tadmin\t" in listing and listing.rstrip().endswith("active")
    assert raw_token not in listing
    assert "has no API tokens" in run("list_api_tokens", "--team", other_team.slug)
    with pytest.raises(CommandError, match="No team"):
        run("list_api_tokens", "--team", "nope")


@pytest.mark.parametrize("by", ["id", "prefix"])
def test_admin_revokes_a_token_and_it_stops_working(client, raw_token, by):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw_token}"}
    assert client.get("/api/v1/projects/shop/health", **auth).status_code == 200
    token = ApiToken.objects.get()
    key = str(token.pk) if by == "id" else token.prefix
    assert f"Revoked token {token.pk}" in run("revoke_api_token", key, "--user", "admin")
    assert client.get("/api/v1/projects/shop/health", **auth).status_code == 401
    assert client.get("/metrics", **auth).status_code == 401
    assert run("list_api_tokens", "--team", "acme").rstrip().endswith("revoked")
    event = AuditEvent.objects.get(action="api_token.revoke")
    assert (event.outcome, event.actor.username, event.object_id) == ("success", "admin", str(token.pk))
    assert "already revoked" in run("revoke_api_token", key, "--user", "admin")
    assert AuditEvent.objects.filter(action="api_token.revoke").count() == 1


def test_only_team_admins_revoke_and_refusals_are_audited(client, raw_token):
    token = ApiToken.objects.get()
    for user in ("engineer", "outsider"):
        with pytest.raises(CommandError, match="must be an admin of team 'acme'"):
            run("revoke_api_token", str(token.pk), "--user", user)
    assert not ApiToken.objects.get().revoked
    assert list(AuditEvent.objects.filter(action="api_token.revoke").values_list("outcome", flat=True)) == [
        "denied",
        "denied",
    ]
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {raw_token}").status_code == 200


@pytest.mark.parametrize(
    "key,message",
    [("999999", "No token with id or prefix"), ("nod_", "at least 6 characters"), ("zzzzzzzz", "No token")],
)
def test_unknown_tokens_are_explained(raw_token, key, message):
    with pytest.raises(CommandError, match=message):
        run("revoke_api_token", key, "--user", "admin")
    assert not ApiToken.objects.get().revoked
