from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from dashboard.common.crypto import EncryptedTextField, rotate


def encrypted_columns() -> list[tuple]:
    """(model, [column, ...]) for every model with EncryptedTextFields, found from the models' _meta."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        columns = [
            field.column
            for field in model._meta.concrete_fields
            if isinstance(field, EncryptedTextField) and field.model is model
        ]
        if columns:
            found.append((model, columns))
    return found


class Command(BaseCommand):
    help = "Re-encrypt every stored credential with the first key of FIELD_ENCRYPTION_KEYS (after adding a new key)."

    def handle(self, *args, **options):
        with transaction.atomic():
            counts = [
                f"{_rotate_table(model, columns)} {model._meta.verbose_name_plural}"
                for model, columns in encrypted_columns()
            ]
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted credentials of {', '.join(counts)}."))


def _rotate_table(model, columns: list[str]) -> int:
    # Raw tokens only: plaintext never passes through model instances, so it cannot end up in logs.
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    selected = ", ".join(quote(col) for col in columns)
    assignments = ", ".join(f"{quote(col)} = %s" for col in columns)
    with connection.cursor() as cur:
        cur.execute(f"SELECT {pk}, {selected} FROM {table} ORDER BY {pk} FOR UPDATE")  # noqa: S608
        rows = cur.fetchall()
        for pk_value, *tokens in rows:
            rotated = [rotate(token) if token else token for token in tokens]
            cur.execute(f"UPDATE {table} SET {assignments} WHERE {pk} = %s", [*rotated, pk_value])  # noqa: S608
    return len(rows)
