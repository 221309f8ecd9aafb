from django.core.management.base import BaseCommand

from dashboard.benchmarks import demo as benchmarks_demo
from dashboard.demo.setup import load_demo
from dashboard.models import SchemaSnapshot
from dashboard.projects.tasks import start_connection_check
from dashboard.queries.tasks import collect_statements
from dashboard.schema.tasks import request_snapshot


class Command(BaseCommand):
    help = "Create team demo with users admin/engineer/viewer and register the Pagila database (idempotent)."

    def handle(self, *args, **options):
        result = load_demo()
        if result.pagila_loaded:
            self.stdout.write("Loaded the Pagila sample database into database 'pagila'.")
        project = result.project
        # Queue the first background work so the demo pages have something to show at once;
        # the worker started by `make run` picks these up.
        start_connection_check(project, user=None)
        if not SchemaSnapshot.objects.filter(project=project).exists():
            request_snapshot(project)
        collect_statements.delay(project.pk)
        benchmarks_demo.queue_select_only(project)
        self.stdout.write(self.style.SUCCESS(f"Demo project '{project.slug}' is registered."))
