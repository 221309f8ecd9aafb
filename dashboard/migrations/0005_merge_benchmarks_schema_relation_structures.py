from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0004_benchmarks"),
        ("dashboard", "0004_schema_relation_structures"),
    ]

    operations = []
