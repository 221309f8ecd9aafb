from django.core.management.base import BaseCommand, CommandError

from dashboard.benchmarks import demo as benchmarks_demo
from dashboard.neon import demo
from dashboard.neon.client import NeonAPIError
from dashboard.targets.connect import TargetError
from migrations_app.demo import ensure_neon_demo_migration


class Command(BaseCommand):
    help = (
        "Demo project backed by the local Neon API stand-in. `prepare` copies the pagila database and makes the "
        "stand-in's API key; `register` (stand-in running, NEON_API_BASE_URL pointing at it) registers "
        "pagila-neon, syncs its branches and queues its demo benchmark and the rehearsal of its demo migration "
        "request for the worker; `admin-url` prints the local server URL the stand-in acts on."
    )

    def add_arguments(self, parser):
        parser.add_argument("step", choices=["prepare", "register", "admin-url"])
        parser.add_argument("--team", default="demo")

    def handle(self, *args, step, team, **options):
        if step == "admin-url":
            self.stdout.write(demo.admin_url())
        elif step == "prepare":
            demo.ensure_api_key()
            if demo.ensure_database():
                self.stdout.write(
                    f"Copied pagila into database '{demo.STANDIN_DATABASE}' for the Neon stand-in."
                )
        else:
            try:
                project = demo.register(team)
            except NeonAPIError as exc:
                raise CommandError(f"The Neon stand-in did not answer: {exc.message}") from None
            self._demo_migration(project)  # its snapshot is read before the demo benchmark starts
            benchmarks_demo.queue_cold_start(project)
            self.stdout.write(
                self.style.SUCCESS(f"Demo project '{project.slug}' uses the local Neon stand-in.")
            )

    def _demo_migration(self, project) -> None:
        try:
            req = ensure_neon_demo_migration(project)
        except TargetError as exc:  # the project is registered all the same
            self.stderr.write(f"The demo migration request was not drafted: {exc.message}")
            return
        if req is not None:
            self.stdout.write(f"Demo migration request #{req.pk}: its rehearsal waits for the worker.")
