from django.core.management.base import BaseCommand

from dashboard.demo.setup import load_demo
from dashboard.views.projects import start_connection_check


class Command(BaseCommand):
    help = "Create team demo with users admin/engineer/viewer and register the Pagila database (idempotent)."

    def handle(self, *args, **options):
        result = load_demo()
        if result.pagila_loaded:
            self.stdout.write("Loaded the Pagila sample database into database 'pagila'.")
        start_connection_check(result.project, user=None)
        self.stdout.write(self.style.SUCCESS(f"Demo project '{result.project.slug}' is registered."))
