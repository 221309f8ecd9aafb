"""Relation structures stored once by hash (content-addressed) instead of a full copy per snapshot version.

Existing relation rows are split into their shared structure and their own statistics, so the
stored snapshots keep working; snapshot structure hashes are unchanged (the same canonical JSON).
"""

import hashlib

import django.db.models.deletion
from django.db import migrations, models

from dashboard.introspection.model import (
    canonical_json,
    join_relation,
    relation_fingerprint,
    relation_from_dict,
    relation_statistics,
    relation_structure,
)

BATCH = 1000


def split_details(apps, schema_editor):
    relation_model = apps.get_model("dashboard", "SchemaRelation")
    structure_model = apps.get_model("dashboard", "SchemaRelationStructure")
    rows = relation_model.objects.order_by("pk").only("pk", "detail")
    batch = []
    for row in rows.iterator(chunk_size=BATCH):
        batch.append(row)
        if len(batch) == BATCH:
            _split(batch, relation_model, structure_model)
            batch = []
    _split(batch, relation_model, structure_model)


def _split(rows, relation_model, structure_model):
    structures = {}
    for row in rows:
        detail = dict(row.detail)
        findings = detail.pop("findings", [])
        text = canonical_json(relation_structure(detail))
        row.structure_id = hashlib.sha256(text.encode()).hexdigest()
        structures[row.structure_id] = relation_structure(detail)
        row.stats = relation_statistics(detail) | ({"findings": findings} if findings else {})
    structure_model.objects.bulk_create(
        [structure_model(hash=h, structure=s) for h, s in structures.items()], ignore_conflicts=True
    )
    relation_model.objects.bulk_update(rows, ["structure", "stats"])


def join_details(apps, schema_editor):
    relation_model = apps.get_model("dashboard", "SchemaRelation")
    rows = []
    for row in relation_model.objects.select_related("structure").iterator(chunk_size=BATCH):
        stats = dict(row.stats)
        findings = stats.pop("findings", [])
        row.detail = join_relation(row.structure.structure, stats) | {"findings": findings}
        row.structure_hash = relation_fingerprint(relation_from_dict(row.detail))
        rows.append(row)
    relation_model.objects.bulk_update(rows, ["detail", "structure_hash"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0003_merge_0002_neon_0002_queries_0002_schema")]

    operations = [
        migrations.CreateModel(
            name="SchemaRelationStructure",
            fields=[
                ("hash", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("structure", models.JSONField()),
            ],
        ),
        migrations.AddField(
            model_name="schemarelation",
            name="structure",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="dashboard.schemarelationstructure",
            ),
        ),
        migrations.AddField(model_name="schemarelation", name="stats", field=models.JSONField(default=dict)),
        migrations.RunPython(split_details, join_details),
        migrations.RemoveField(model_name="schemarelation", name="detail"),
        migrations.RemoveField(model_name="schemarelation", name="structure_hash"),
        migrations.AlterField(
            model_name="schemarelation",
            name="structure",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="dashboard.schemarelationstructure",
            ),
        ),
    ]
