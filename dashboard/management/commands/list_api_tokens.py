"""List a team's API tokens (never the tokens themselves): manage.py list_api_tokens --team acme."""

from django.core.management.base import BaseCommand, CommandError

from dashboard.models import ApiToken, Team


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


class Command(BaseCommand):
    help = "List the bearer tokens of a team: id, prefix, name, creator, last use, status."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="Team slug")

    def handle(self, *args, team, **options):
        team_obj = Team.objects.filter(slug=team).first()
        if team_obj is None:
            raise CommandError(f"No team with slug {team!r}.")
        tokens = ApiToken.objects.filter(team=team_obj).select_related("created_by").order_by("pk")
        if not tokens:
            self.stdout.write(f"Team {team_obj.slug} has no API tokens.")
            return
        self.stdout.write("id\tprefix\tname\tcreated by\tcreated\tlast used\tstatus")
        for t in tokens:
            creator = t.created_by.get_username() if t.created_by else "-"
            status = "revoked" if t.revoked else "active"
            self.stdout.write(
                f"{t.pk}\t{t.prefix}…\t{t.name}\t{creator}\t{_when(t.created_at)}\t{_when(t.last_used_at)}\t{status}"
            )
