"""Snapshot storage: a relation's structure is stored once, whatever the number of versions that contain it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from dashboard.introspection.model import relation_to_dict
from dashboard.models import SchemaRelation, SchemaRelationStructure, SchemaSnapshot
from dashboard.schema.snapshots import delete_unused_structures, load_catalog

pytestmark = pytest.mark.django_db

TABLES = [
    f"CREATE TABLE part_{i:02d} (id bigint PRIMARY KEY, at timestamptz NOT NULL, v text)" for i in range(20)
]


def test_a_new_version_stores_only_the_structures_that_changed(project, target_sql, snapshot):
    target_sql(*TABLES)
    first = snapshot()
    stored = SchemaRelationStructure.objects.count()
    assert stored == 20
    # A database that creates a table every hour: the next version adds one structure, not 21 copies.
    target_sql("CREATE TABLE part_20 (id bigint PRIMARY KEY, at timestamptz NOT NULL, v text, extra int)")
    second = snapshot()
    assert second.version == first.version + 1
    assert SchemaRelationStructure.objects.count() == stored + 1
    assert second.relations.count() == 21
    shared = set(first.relations.values_list("structure_id", flat=True))
    assert shared < set(second.relations.values_list("structure_id", flat=True))


def test_statistics_stay_per_version_while_structures_are_shared(project, target_sql, snapshot, client_for):
    target_sql(*TABLES[:2], "INSERT INTO part_00 SELECT g, now(), 'x' FROM generate_series(1, 500) g")
    snapshot()
    target_sql("ANALYZE part_00", "CREATE TABLE later (id int)")
    latest = snapshot()
    assert SchemaRelation.objects.get(snapshot=latest, name="part_00").row_estimate == 500
    relation = next(r for r in load_catalog(latest).relations if r.name == "part_00")
    assert relation.row_estimate == 500 and relation.indexes[0].name == "part_00_pkey"
    page = client_for("viewer").get("/projects/shop/schema/public/part_00/").content.decode()
    assert "part_00_pkey" in page and "500" in page


def test_structures_are_deleted_only_when_no_snapshot_uses_them(project, target_sql, snapshot):
    target_sql(*TABLES[:3])
    first = snapshot()
    target_sql("DROP TABLE part_02", "CREATE TABLE other (id int)")
    snapshot()
    assert delete_unused_structures() == 0
    first.delete()
    assert delete_unused_structures() == 1  # part_02's structure: no version has it any more
    assert SchemaRelationStructure.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_snapshots_stored_before_the_change_are_migrated_and_keep_working(project, target_sql, snapshot):
    target_sql(*TABLES[:3], "CREATE TABLE child (id int REFERENCES part_00)")
    current = load_catalog(snapshot())
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        # Back to full copies (the reverse migration joins the rows again), then forward through 0004.
        executor.migrate([("dashboard", "0003_merge_0002_neon_0002_queries_0002_schema")])
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*), count(*) FILTER (WHERE detail ? 'columns') FROM dashboard_schemarelation"
            )
            assert cur.fetchone() == (4, 4)
        executor = MigrationExecutor(connection)
        executor.migrate([("dashboard", "0004_schema_relation_structures")])
        migrated = load_catalog(SchemaSnapshot.objects.get(project=project))
    finally:
        MigrationExecutor(connection).migrate(leaves)  # every app back at its latest state
    assert [relation_to_dict(r) for r in migrated.relations] == [
        relation_to_dict(r) for r in current.relations
    ]
    assert SchemaRelationStructure.objects.count() == 4
