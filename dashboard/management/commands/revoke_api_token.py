"""Revoke an API token: manage.py revoke_api_token <id or prefix> --user alice (a team admin); audited."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from dashboard.common import audit
from dashboard.models import ApiToken, Membership, Outcome, Role


def find_token(key: str) -> ApiToken:
    """The token with this id, or the one token whose prefix (as listed) starts with `key`."""
    key = key.strip().rstrip("…")
    if key.isdigit():
        token = ApiToken.objects.select_related("team").filter(pk=int(key)).first()
        if token is not None:
            return token
    if len(key) < 6:
        raise CommandError("Give the token id or at least 6 characters of its prefix (see list_api_tokens).")
    matches = list(ApiToken.objects.select_related("team").filter(prefix__startswith=key)[:2])
    if not matches:
        raise CommandError(f"No token with id or prefix {key!r}.")
    if len(matches) > 1:
        raise CommandError(f"More than one token starts with {key!r}; give its id instead.")
    return matches[0]


class Command(BaseCommand):
    help = "Revoke a bearer token (it stops working at once); the revocation is audited."

    def add_arguments(self, parser):
        parser.add_argument("token", help="Token id or prefix, as shown by list_api_tokens")
        parser.add_argument("--user", required=True, help="Username of an admin of the token's team")

    def handle(self, *args, token, user, **options):
        found = find_token(token)
        user_obj = get_user_model().objects.filter(username=user).first()
        membership = Membership.objects.filter(team=found.team, user=user_obj).first() if user_obj else None
        if membership is None or not membership.has_role(Role.ADMIN):
            if user_obj is not None:
                audit.record(user_obj, "api_token.revoke", team=found.team, obj=found, outcome=Outcome.DENIED)
            raise CommandError(f"{user!r} must be an admin of team {found.team.slug!r} to revoke its tokens.")
        if found.revoked:
            self.stdout.write(f"Token {found.pk} ({found}) was already revoked; nothing changed.")
            return
        ApiToken.objects.filter(pk=found.pk).update(revoked=True)
        audit.record(user_obj, "api_token.revoke", team=found.team, obj=found, name=found.name)
        self.stdout.write(f"Revoked token {found.pk} ({found}) of team {found.team.slug}.")
