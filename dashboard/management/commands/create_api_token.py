"""Create an API token for the health API and /metrics: manage.py create_api_token --team acme --user alice."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from dashboard.api.tokens import create_token
from dashboard.common import audit
from dashboard.models import Membership, Role, Team


class Command(BaseCommand):
    help = "Create a bearer token scoped to one team; prints it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="Team slug")
        parser.add_argument("--user", required=True, help="Username of a team admin creating the token")
        parser.add_argument("--name", default="automation", help="What the token is for")

    def handle(self, *args, team, user, name, **options):
        team_obj = Team.objects.filter(slug=team).first()
        if team_obj is None:
            raise CommandError(f"No team with slug {team!r}.")
        user_obj = get_user_model().objects.filter(username=user).first()
        membership = Membership.objects.filter(team=team_obj, user=user_obj).first() if user_obj else None
        if membership is None or not membership.has_role(Role.ADMIN):
            raise CommandError(f"{user!r} must be an admin of team {team_obj.slug!r} to create its tokens.")
        token, raw = create_token(team_obj, name[:100], created_by=user_obj)
        audit.record(user_obj, "api_token.create", team=team_obj, obj=token)
        self.stdout.write(raw)
