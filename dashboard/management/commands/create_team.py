from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from dashboard.common import audit
from dashboard.models import Team


class Command(BaseCommand):
    help = "Create a team (for operators without a browser)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--slug", help="URL-safe id; derived from the name if omitted.")

    def handle(self, *args, name, slug, **options):
        slug = slug or slugify(name)
        if not slug:
            raise CommandError("Give a --slug: the name has no letters or digits to derive one from.")
        if Team.objects.filter(slug=slug).exists() or Team.objects.filter(name=name).exists():
            raise CommandError(f"A team named {name!r} or with slug {slug!r} already exists.")
        team = Team.objects.create(name=name, slug=slug)
        audit.record(None, "team.create", team=team, obj=team, via="manage.py create_team")
        self.stdout.write(self.style.SUCCESS(f"Created team {team.name} ({team.slug})."))
