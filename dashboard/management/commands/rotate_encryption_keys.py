from cryptography.fernet import InvalidToken
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
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
    help = (
        "Re-encrypt every stored credential with the first key of FIELD_ENCRYPTION_KEYS (after adding a new "
        "key). A credential no configured key decrypts is left as it is and listed (never its value); the "
        "command then exits non-zero."
    )

    def handle(self, *args, **options):
        unreadable: list[str] = []
        with transaction.atomic():
            counts = [
                f"{_rotate_table(model, columns, unreadable)} {model._meta.verbose_name_plural}"
                for model, columns in encrypted_columns()
            ]
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted credentials of {', '.join(counts)}."))
        if unreadable:
            for where in unreadable:
                self.stderr.write(
                    f"Cannot decrypt {where}: left unchanged; re-enter it on the project's edit page."
                )
            raise CommandError(
                f"{len(unreadable)} credential(s) could not be decrypted with the configured keys (listed above); "
                "every other credential was re-encrypted."
            )


def _rotate_table(model, columns: list[str], unreadable: list[str]) -> int:
    """Re-encrypt each token of the table; a token no key reads stays as it is and is added to `unreadable`."""
    # Raw tokens only: plaintext never passes through model instances, so it cannot end up in logs.
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    selected = ", ".join(quote(col) for col in columns)
    assignments = ", ".join(f"{quote(col)} = %s" for col in columns)
    with connection.cursor() as cur:
        cur.execute(f"SELECT {pk}, {selected} FROM {table} ORDER BY {pk} FOR UPDATE")  # noqa: S608
        rows = cur.fetchall()
        for pk_value, *tokens in rows:
            rotated = []
            for column, token in zip(columns, tokens, strict=True):
                try:
                    rotated.append(rotate(token) if token else token)
                except InvalidToken:
                    rotated.append(token)
                    unreadable.append(f"{_describe(model, pk_value)}: {column}")
            cur.execute(f"UPDATE {table} SET {assignments} WHERE {pk} = %s", [*rotated, pk_value])  # noqa: S608
    return len(rows)


def _describe(model, pk_value) -> str:
    """Which row, by its project's slug (and the row's own name when it has one), never by a secret."""
    row = model.objects.filter(pk=pk_value)
    if model._meta.model_name == "project":
        return f"project {row.values_list('slug', flat=True).first()}"
    label = model._meta.verbose_name
    names = [f.name for f in model._meta.concrete_fields]
    slug = row.values_list("project__slug", flat=True).first() if "project" in names else None
    name = row.values_list("name", flat=True).first() if "name" in names else pk_value
    return f"{label} {name} of project {slug}" if slug else f"{label} {name}"
