from django.apps import AppConfig


class MigrationsAppConfig(AppConfig):
    name = "migrations_app"
    verbose_name = "Schema migrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dashboard.taskruns import lifecycle as taskruns
        from migrations_app.services.apply import reconcile_lost_applies

        # A lost apply is settled from the target's history table: applied, partly applied or not applied.
        if reconcile_lost_applies not in taskruns.RECONCILE_HOOKS:
            taskruns.RECONCILE_HOOKS.append(reconcile_lost_applies)
