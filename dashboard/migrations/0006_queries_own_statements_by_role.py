"""Own statements move from the text (marker anywhere) to the entry (marker first, and the dashboard's role).

Stored entries keep being the dashboard's own only when their text starts with the marker (or is one
of its utility statements); which role ran them is not known here, so the next new entries decide it
with the role as well.
"""

from django.db import migrations, models

from dashboard.introspection.statements import OWN_UTILITY_PREFIXES
from dashboard.targets.marker import is_marked


def own_by_text(apps, schema_editor):
    QueryText = apps.get_model("dashboard", "QueryText")
    Statement = apps.get_model("dashboard", "Statement")
    own_texts = []
    for pk, text in QueryText.objects.filter(is_own=True).values_list("pk", "text").iterator():
        lowered = " ".join(text.lower().split())
        if is_marked(text) or lowered.startswith(OWN_UTILITY_PREFIXES):
            own_texts.append(pk)
    Statement.objects.filter(query_id__in=own_texts).update(is_own=True)


def own_texts_back(apps, schema_editor):
    QueryText = apps.get_model("dashboard", "QueryText")
    QueryText.objects.filter(statements__is_own=True).update(is_own=True)


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0005_queries_due_reason"),
    ]

    operations = [
        migrations.AddField(
            model_name="statement",
            name="is_own",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(own_by_text, own_texts_back),
        migrations.RemoveField(
            model_name="querytext",
            name="is_own",
        ),
    ]
