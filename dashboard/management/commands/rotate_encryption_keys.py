from django.core.management.base import BaseCommand
from django.db import connection, transaction

from dashboard.crypto import rotate
from dashboard.models import Project

SECRET_COLUMNS = ("pooled_url", "direct_url", "neon_api_key")


class Command(BaseCommand):
    help = (
        "Re-encrypt stored credentials with the first key of FIELD_ENCRYPTION_KEYS (after adding a new key)."
    )

    def handle(self, *args, **options):
        # Raw tokens only: plaintext never passes through model instances, so it cannot end up in logs.
        table = connection.ops.quote_name(Project._meta.db_table)
        columns = ", ".join(SECRET_COLUMNS)
        assignments = ", ".join(f"{col} = %s" for col in SECRET_COLUMNS)
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"SELECT id, {columns} FROM {table} ORDER BY id FOR UPDATE")  # noqa: S608
            rows = cur.fetchall()
            for pk, *tokens in rows:
                rotated = [rotate(token) if token else token for token in tokens]
                cur.execute(f"UPDATE {table} SET {assignments} WHERE id = %s", [*rotated, pk])  # noqa: S608
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted credentials of {len(rows)} project(s)."))
