"""Statement texts: secrets masked for everyone, and a literal-free version for viewers.

Texts stored before this migration may hold passwords (utility statements are kept verbatim by
pg_stat_statements): they are redacted here, as the collector now does before storing.
"""

from django.db import migrations, models

from dashboard.introspection.activity import redact_literals
from dashboard.introspection.redaction import redact_secrets

BATCH = 500


def redact_stored_texts(apps, schema_editor):
    QueryText = apps.get_model("dashboard", "QueryText")
    changed = []
    for row in QueryText.objects.only("pk", "text").iterator(chunk_size=BATCH):
        text = redact_secrets(row.text)
        viewer_text = redact_literals(text)
        if text != row.text or viewer_text != text:
            row.text, row.viewer_text = text, viewer_text if viewer_text != text else ""
            changed.append(row)
        if len(changed) >= BATCH:
            QueryText.objects.bulk_update(changed, ["text", "viewer_text"])
            changed = []
    QueryText.objects.bulk_update(changed, ["text", "viewer_text"])


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0006_queries_own_statements_by_role"),
    ]

    operations = [
        migrations.AddField(
            model_name="querytext",
            name="viewer_text",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(redact_stored_texts, migrations.RunPython.noop),
    ]
