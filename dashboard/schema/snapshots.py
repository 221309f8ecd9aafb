"""Capturing, storing and loading schema snapshots (the Django side of the schema area).

A capture reads the target's catalog (dashboard.introspection), runs the advisor
on it and stores it. The version goes up only when the structure changed; a
capture of an unchanged schema refreshes the latest snapshot's statistics and
time in place, so periodic captures do not flood the history.
"""

import hashlib
import json
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from dashboard.advisor import run_rules
from dashboard.connections import open_target
from dashboard.introspection.diff import CatalogDiff, diff_catalogs
from dashboard.introspection.model import (
    Catalog,
    canonical_json,
    join_relation,
    objects_to_dict,
    relation_from_dict,
    relation_statistics,
    relation_structure,
    relation_to_dict,
    structure_fingerprint,
)
from dashboard.introspection.schema import read_catalog
from dashboard.models import Project, SchemaRelation, SchemaSnapshot, SnapshotSource
from migrations_app.history import store as history_store


def branch_key(branch) -> tuple[str, str]:
    """(id, name) of a Branch record from dashboard.neon.state.branches_for; ("", "") for the default."""
    if branch is None:
        return "", ""
    branch_id = (
        getattr(branch, "branch_id", None) or getattr(branch, "neon_branch_id", None) or str(branch.pk)
    )
    return str(branch_id), str(getattr(branch, "name", "") or branch_id)


def read_project_catalog(project: Project, branch=None, *, with_history: bool = False) -> tuple[Catalog, int]:
    """Introspect the project (or one of its branches); returns the catalog and the time it took in ms.

    `with_history` first reads and stores other tools' migration history on the same connection
    (just before the catalog read, which the drift intervals of migrations_app.history rely on).
    """
    started = time.monotonic()
    timeout = settings.SCHEMA_CAPTURE_STATEMENT_TIMEOUT_MS
    with open_target(project, branch, statement_timeout_ms=timeout) as target:
        if with_history:
            history_store.read_before_snapshot(project, target, branch)
        with target.read_only() as cur:
            catalog = read_catalog(cur)
    return catalog, int((time.monotonic() - started) * 1000)


def capture_snapshot(
    project: Project, *, branch=None, source=SnapshotSource.MANUAL, user=None
) -> SchemaSnapshot:
    """Read and store a snapshot. Raises TargetError with a message safe to show."""
    catalog, elapsed_ms = read_project_catalog(project, branch, with_history=True)
    branch_id, branch_name = branch_key(branch)
    return store_catalog(project, catalog, branch_id=branch_id, branch_name=branch_name, source=source,
                         user=user, capture_ms=elapsed_ms)  # fmt: skip


def _counts(catalog: Catalog) -> dict:
    kinds: dict[str, int] = {}
    for relation in catalog.relations:
        kinds[relation.kind] = kinds.get(relation.kind, 0) + 1
    return {
        "relations": len(catalog.relations),
        "kinds": kinds,
        "schemas": len(catalog.schemas),
        "sequences": len(catalog.sequences),
        "types": len(catalog.enums) + len(catalog.domains) + len(catalog.composites),
        "functions": len(catalog.functions),
        "extensions": len(catalog.extensions),
    }


# The columns of a relation row, in the order _relation_records() gives them (COPY writes them as is).
RELATION_COLUMNS = ("snapshot_id", "schema", "name", "kind", "is_partition", "parent_schema", "parent_name",
                    "row_estimate", "total_bytes", "column_count", "index_count", "constraint_count", "fk_count",
                    "incoming_fk_count", "structure_id", "stats")  # fmt: skip
# Storing takes it shared, the cleanup of unused structures exclusively: a structure a capture
# found stored cannot be deleted before the capture's rows refer to it.
STRUCTURES_LOCK = 0x5C4E_0A57


def _relation_records(catalog: Catalog, findings: list[dict]) -> tuple[list[tuple], dict[str, str]]:
    """(rows for RELATION_COLUMNS without the snapshot id, {hash: structure JSON text}) of the catalog.

    Rows come in catalog order; each row's structure hash is its second to last value.
    """
    by_relation: dict[tuple, list[dict]] = {}
    for f in findings:
        by_relation.setdefault((f["schema"], f["table"]), []).append(f)
    rows, texts = [], {}
    for r in catalog.relations:
        data = relation_to_dict(r)
        text = canonical_json(relation_structure(data))
        digest = hashlib.sha256(text.encode()).hexdigest()
        texts[digest] = text
        stats = relation_statistics(data)
        if relation_findings := by_relation.get((r.schema, r.name)):
            stats["findings"] = relation_findings
        rows.append((
            r.schema, r.name, r.kind, r.is_partition, r.parent_schema, r.parent_name, r.row_estimate,
            r.total_bytes, len(r.columns), len(r.indexes), len(r.constraints), len(r.foreign_keys),
            len(r.incoming), digest, json.dumps(stats),
        ))  # fmt: skip
    return rows, texts


def _store_relations(snapshot: SchemaSnapshot, rows: list[tuple], texts: dict[str, str]) -> None:
    """Store the structures not stored yet, then the snapshot's relation rows, with COPY (no per-row SQL)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", [STRUCTURES_LOCK])
        cur.execute("SELECT hash FROM dashboard_schemarelationstructure WHERE hash = ANY(%s)", [list(texts)])
        missing = texts.keys() - {h for (h,) in cur.fetchall()}
        if missing:
            # Through a temporary table: another project's capture may store the same structure meanwhile.
            cur.execute("CREATE TEMPORARY TABLE new_structures (hash text, structure jsonb) ON COMMIT DROP")
            with cur.cursor.copy("COPY new_structures (hash, structure) FROM STDIN") as copy:
                for digest in missing:
                    copy.write_row((digest, texts[digest]))
            cur.execute("INSERT INTO dashboard_schemarelationstructure (hash, structure) "
                        "SELECT hash, structure FROM new_structures ON CONFLICT (hash) DO NOTHING")  # fmt: skip
            cur.execute("DROP TABLE new_structures")
        columns = ", ".join(RELATION_COLUMNS)
        with cur.cursor.copy(f"COPY dashboard_schemarelation ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((snapshot.pk, *row))


@transaction.atomic
def store_catalog(project, catalog: Catalog, *, branch_id="", branch_name="", source=SnapshotSource.MANUAL,
                  user=None, capture_ms=0) -> SchemaSnapshot:  # fmt: skip
    findings = [f.to_dict() for f in run_rules(catalog)]
    rows, texts = _relation_records(catalog, findings)
    fingerprint = structure_fingerprint(catalog, [texts[row[-2]] for row in rows])
    fields = {
        "taken_at": timezone.now(),
        "server_version": catalog.server_version,
        "capture_ms": capture_ms,
        "data": objects_to_dict(catalog) | {"database": catalog.database,
                                            "server_version_num": catalog.server_version_num},
        "findings": findings,
        "counts": _counts(catalog),
    }  # fmt: skip
    # Lock the project row so two captures cannot take the same version number.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    latest = SchemaSnapshot.objects.filter(project=project, branch_id=branch_id).order_by("-version").first()
    if latest is not None and latest.structure_hash == fingerprint:
        SchemaSnapshot.objects.filter(pk=latest.pk).update(**fields)
        latest.relations.all().delete()
        latest.refresh_from_db()
        snapshot = latest
    else:
        version = (SchemaSnapshot.objects.filter(project=project).aggregate(v=Max("version"))["v"] or 0) + 1
        snapshot = SchemaSnapshot.objects.create(
            project=project, branch_id=branch_id, branch_name=branch_name, version=version, source=source,
            created_by=user if getattr(user, "is_authenticated", False) else None,
            structure_hash=fingerprint, first_taken_at=fields["taken_at"], **fields,
        )  # fmt: skip
    _store_relations(snapshot, rows, texts)
    return snapshot


def latest_snapshot(project: Project, branch_id: str = "") -> SchemaSnapshot | None:
    return (
        SchemaSnapshot.objects.filter(project=project, branch_id=branch_id)
        .defer("data", "findings")
        .order_by("-version")
        .first()
    )


def diff_snapshots(old: SchemaSnapshot, new: SchemaSnapshot, limit: int | None = None) -> CatalogDiff:
    """The diff of two stored snapshots, loading only relations whose structures differ.

    Relations sharing a structure cannot differ, so leaving them out gives the same result as
    diffing the full catalogs, without decoding thousands of unchanged relations. With `limit`,
    at most that many changed objects are listed (diff.more counts the others), and at most
    about that many relations of each snapshot are decoded, however far apart the versions are.
    """
    structures = [
        dict(((s, n), h) for s, n, h in snap.relations.values_list("schema", "name", "structure_id"))
        for snap in (old, new)
    ]
    changed = sorted(key for key in structures[0].keys() | structures[1].keys()
                     if structures[0].get(key) != structures[1].get(key))  # fmt: skip
    shown = changed if limit is None else changed[:limit]
    catalogs = [load_catalog(snap, only=set(shown)) for snap in (old, new)]
    diff = diff_catalogs(*catalogs, limit=limit)
    diff.more += len(changed) - len(shown)
    return diff


def load_catalog(snapshot: SchemaSnapshot, only: set[tuple[str, str]] | None = None) -> Catalog:
    """The Catalog of a stored snapshot; with `only`, just those (schema, name) relations."""
    data = dict(snapshot.data)
    data["server_version"] = snapshot.server_version
    data.setdefault("server_version_num", 0)
    catalog = Catalog.from_dict({**data, "relations": []})
    rows = SchemaRelation.objects.filter(snapshot=snapshot).order_by("schema", "name")
    if only is not None:
        ids = [pk for pk, s, n in rows.values_list("pk", "schema", "name") if (s, n) in only]
        rows = rows.filter(pk__in=ids)
    parts = rows.values_list("structure__structure", "stats")
    catalog.relations = [relation_from_dict(_detail(*part)) for part in parts.iterator(chunk_size=1000)]
    return catalog


def _detail(structure, stats) -> dict:
    """A relation's detail as the pages use it: structure, statistics and "findings" in one dict."""
    if isinstance(structure, str):
        structure = json.loads(structure)
    if isinstance(stats, str):
        stats = json.loads(stats)
    stats = dict(stats)
    findings = stats.pop("findings", [])
    return join_relation(structure, stats) | {"findings": findings}


# One indexed lookup for the table page (the ORM's compile time for the equivalent queryset was
# most of the page's own cost in perf/schema_bench). Static SQL; names travel as parameters.
LATEST_RELATION_SQL = """
SELECT t.structure, r.stats, s.id, s.version, s.taken_at, s.server_version
FROM dashboard_schemarelation r JOIN dashboard_schemasnapshot s ON s.id = r.snapshot_id
JOIN dashboard_schemarelationstructure t ON t.hash = r.structure_id
WHERE r.snapshot_id = (SELECT id FROM dashboard_schemasnapshot
                       WHERE project_id = %s AND branch_id = %s ORDER BY version DESC LIMIT 1)
  AND r.schema = %s AND r.name = %s
"""


def latest_relation(
    project, schema: str, table: str, branch_id: str = ""
) -> tuple[dict, SchemaSnapshot] | None:
    """The relation's detail in the branch's latest snapshot, and that snapshot (id, version, time)."""
    with connection.cursor() as cur:
        cur.execute(LATEST_RELATION_SQL, [project.pk, branch_id, schema, table])
        row = cur.fetchone()
    if row is None:
        return None
    structure, stats, snapshot_id, version, taken_at, server_version = row
    snapshot = SchemaSnapshot(pk=snapshot_id, project=project, version=version, taken_at=taken_at,
                              server_version=server_version)  # fmt: skip
    return _detail(structure, stats), snapshot


def snapshot_findings(snapshot) -> list[dict]:
    return SchemaSnapshot.objects.filter(pk=snapshot.pk).values_list("findings", flat=True).first() or []


UNUSED_STRUCTURES_SQL = """
DELETE FROM dashboard_schemarelationstructure t
WHERE NOT EXISTS (SELECT 1 FROM dashboard_schemarelation r WHERE r.structure_id = t.hash)
"""


@transaction.atomic
def delete_unused_structures() -> int:
    """Delete relation structures no snapshot refers to any more (after snapshots were deleted)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [STRUCTURES_LOCK])
        cur.execute(UNUSED_STRUCTURES_SQL)
        return cur.rowcount
