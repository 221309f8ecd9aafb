"""Capturing, storing and loading schema snapshots (the Django side of the schema area).

A capture reads the target's catalog (dashboard.introspection), runs the advisor
on it and stores it. The version goes up only when the structure changed; a
capture of an unchanged schema refreshes the latest snapshot's statistics and
time in place, so periodic captures do not flood the history.
"""

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
    relation_fingerprint,
    relation_from_dict,
    relation_to_dict,
    structure_fingerprint,
)
from dashboard.introspection.schema import read_catalog
from dashboard.models import Project, SchemaRelation, SchemaSnapshot, SnapshotSource
from migrations_app.history import store as history_store

NON_RELATION_KEYS = ("schemas", "sequences", "enums", "domains", "composites", "functions", "extensions")


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


def _relation_rows(snapshot: SchemaSnapshot, catalog: Catalog, findings: list[dict]) -> list[SchemaRelation]:
    by_relation: dict[tuple, list[dict]] = {}
    for f in findings:
        by_relation.setdefault((f["schema"], f["table"]), []).append(f)
    return [
        SchemaRelation(
            snapshot=snapshot,
            schema=r.schema,
            name=r.name,
            kind=r.kind,
            is_partition=r.is_partition,
            parent_schema=r.parent_schema,
            parent_name=r.parent_name,
            row_estimate=r.row_estimate,
            total_bytes=r.total_bytes,
            column_count=len(r.columns),
            index_count=len(r.indexes),
            constraint_count=len(r.constraints),
            fk_count=len(r.foreign_keys),
            incoming_fk_count=len(r.incoming),
            structure_hash=relation_fingerprint(r),
            detail=relation_to_dict(r) | {"findings": by_relation.get((r.schema, r.name), [])},
        )  # fmt: skip
        for r in catalog.relations
    ]


@transaction.atomic
def store_catalog(project, catalog: Catalog, *, branch_id="", branch_name="", source=SnapshotSource.MANUAL,
                  user=None, capture_ms=0) -> SchemaSnapshot:  # fmt: skip
    fingerprint = structure_fingerprint(catalog)
    data = catalog.to_dict()
    fields = {
        "taken_at": timezone.now(),
        "server_version": catalog.server_version,
        "capture_ms": capture_ms,
        "data": {key: data[key] for key in NON_RELATION_KEYS} | {"database": catalog.database,
                                                                  "server_version_num": catalog.server_version_num},
        "findings": [f.to_dict() for f in run_rules(catalog)],
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
    SchemaRelation.objects.bulk_create(_relation_rows(snapshot, catalog, fields["findings"]), batch_size=1000)
    return snapshot


def latest_snapshot(project: Project, branch_id: str = "") -> SchemaSnapshot | None:
    return (
        SchemaSnapshot.objects.filter(project=project, branch_id=branch_id)
        .defer("data", "findings")
        .order_by("-version")
        .first()
    )


def diff_snapshots(old: SchemaSnapshot, new: SchemaSnapshot) -> CatalogDiff:
    """The diff of two stored snapshots, loading only relations whose structure hashes differ.

    Relations with equal hashes cannot differ, so leaving them out gives the same result as
    diffing the full catalogs, without decoding thousands of unchanged relations.
    """
    hashes = [
        dict(((s, n), h) for s, n, h in snap.relations.values_list("schema", "name", "structure_hash"))
        for snap in (old, new)
    ]
    changed = {key for key in hashes[0].keys() | hashes[1].keys() if hashes[0].get(key) != hashes[1].get(key)}
    catalogs = [load_catalog(snap, only=changed) for snap in (old, new)]
    return diff_catalogs(*catalogs)


def load_catalog(snapshot: SchemaSnapshot, only: set[tuple[str, str]] | None = None) -> Catalog:
    """The Catalog of a stored snapshot; with `only`, just those (schema, name) relations."""
    data = dict(snapshot.data)
    data["server_version"] = snapshot.server_version
    data.setdefault("server_version_num", 0)
    catalog = Catalog.from_dict({**data, "relations": []})
    rows = SchemaRelation.objects.filter(snapshot=snapshot).order_by("schema", "name")
    if only is not None:
        wanted = {key for key in only}
        ids = [pk for pk, s, n in rows.values_list("pk", "schema", "name") if (s, n) in wanted]
        rows = rows.filter(pk__in=ids)
    details = rows.values_list("detail", flat=True)
    catalog.relations = [relation_from_dict(d) for d in details.iterator(chunk_size=1000)]
    return catalog


# One indexed lookup for the table page (the ORM's compile time for the equivalent queryset was
# most of the page's own cost in perf/schema_bench). Static SQL; names travel as parameters.
LATEST_RELATION_SQL = """
SELECT r.detail, s.id, s.version, s.taken_at, s.server_version
FROM dashboard_schemarelation r JOIN dashboard_schemasnapshot s ON s.id = r.snapshot_id
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
    detail, snapshot_id, version, taken_at, server_version = row
    if isinstance(detail, str):
        detail = json.loads(detail)
    snapshot = SchemaSnapshot(pk=snapshot_id, project=project, version=version, taken_at=taken_at,
                              server_version=server_version)  # fmt: skip
    return detail, snapshot


def snapshot_findings(snapshot) -> list[dict]:
    return SchemaSnapshot.objects.filter(pk=snapshot.pk).values_list("findings", flat=True).first() or []
