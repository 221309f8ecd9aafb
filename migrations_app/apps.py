from django.apps import AppConfig


class MigrationsAppConfig(AppConfig):
    name = "migrations_app"
    verbose_name = "Schema migrations"
    default_auto_field = "django.db.models.BigAutoField"
