"""Reading a database's schema with a fixed number of catalog queries.

`read_catalog(cur)` runs one query per object type (twelve in all, whatever the
number of tables) on a cursor the caller opened inside a read-only transaction
with statement and lock timeouts (dashboard.targets.connect.read_only). It works
on Postgres 14 to 18: only catalog columns present in all of them are used, and
Postgres 18's NOT NULL constraint rows are left out (nullability is per column).

A relation's index size is the sum of its indexes' sizes from the index query (not
pg_indexes_size, which would open every index a second time).

Size functions (pg_relation_size ...) take an ACCESS SHARE lock on each relation,
so a pending ALTER TABLE on the target makes them wait; the lock timeout then
ends the read with LockNotAvailable, which callers turn into "catalog busy".
"""

from collections import defaultdict

import psycopg
from psycopg import sql

from dashboard.targets.connect import TargetSettings, connect, explain_query_error, read_only
from dashboard.targets.marker import mark

from .model import (
    Catalog,
    Column,
    CompositeType,
    Constraint,
    Domain,
    EnumType,
    Extension,
    ForeignKeyRef,
    Function,
    Index,
    Relation,
    SchemaInfo,
    Sequence,
    Trigger,
)

# System schemas are never shown; objects that belong to an extension are left out too.
USER_NAMESPACE = """
    n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
"""
NOT_EXTENSION_MEMBER = """
    NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass
                AND e.objid = {alias}.oid AND e.deptype = 'e')
"""
# An index's k-th column: the plain column name (unquoted, like everywhere else), or the expression text.
INDEX_COLUMN = """
    CASE WHEN i.indkey[k - 1] = 0 THEN pg_get_indexdef(i.indexrelid, k, true)
         ELSE (SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[k - 1])
    END
"""
# Fixed SQL fragments shared by the queries (no catalog names are ever formatted into SQL).
FRAGMENTS = {
    "user_namespace": sql.SQL(USER_NAMESPACE),
    "index_column": sql.SQL(INDEX_COLUMN),
    "not_extension_member_namespace": sql.SQL(NOT_EXTENSION_MEMBER.format(catalog="pg_namespace", alias="n")),
    "not_extension_member_class": sql.SQL(NOT_EXTENSION_MEMBER.format(catalog="pg_class", alias="c")),
    "not_extension_member_type": sql.SQL(NOT_EXTENSION_MEMBER.format(catalog="pg_type", alias="t")),
    "not_extension_member_proc": sql.SQL(NOT_EXTENSION_MEMBER.format(catalog="pg_proc", alias="p")),
}

VERSION_SQL = """
SELECT current_setting('server_version'), current_setting('server_version_num')::int, current_database()
"""

SCHEMAS_SQL = """
SELECT n.nspname, pg_get_userbyid(n.nspowner), obj_description(n.oid, 'pg_namespace')
FROM pg_namespace n
WHERE {user_namespace}
  AND {not_extension_member_namespace}
ORDER BY n.nspname
"""

RELATIONS_SQL = """
SELECT c.oid, n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relpersistence,
       c.relispartition, pn.nspname, p.relname,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
       CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END,
       CASE WHEN c.relkind IN ('r', 'm') THEN pg_relation_size(c.oid) ELSE 0 END,
       CASE WHEN c.reltoastrelid <> 0 THEN pg_total_relation_size(c.reltoastrelid) ELSE 0 END,
       obj_description(c.oid, 'pg_class'),
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END,
       s.n_live_tup, s.n_dead_tup, s.seq_scan, s.idx_scan,
       greatest(s.last_vacuum, s.last_autovacuum)::text,
       greatest(s.last_analyze, s.last_autoanalyze)::text,
       c.relrowsecurity
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits i ON c.relispartition AND i.inhrelid = c.oid
LEFT JOIN pg_class p ON p.oid = i.inhparent
LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {user_namespace}
  AND {not_extension_member_class}
ORDER BY n.nspname, c.relname
"""

COLUMNS_SQL = """
SELECT a.attrelid, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod),
       t.typname, tn.nspname, t.typtype, a.attnotnull,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
       CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' ELSE '' END,
       CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END,
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,
       col_description(a.attrelid, a.attnum)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_namespace tn ON tn.oid = t.typnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped AND {user_namespace}
ORDER BY a.attrelid, a.attnum
"""

# contype 'n' (Postgres 18 NOT NULL constraints) is left out: nullability is shown per column.
CONSTRAINTS_SQL = """
SELECT con.conrelid, con.conname, con.contype, pg_get_constraintdef(con.oid, true),
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord),
       con.convalidated, con.condeferrable, con.condeferred,
       rn.nspname, r.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.ord),
       CASE WHEN con.contype = 'f' THEN con.confupdtype END,
       CASE WHEN con.contype = 'f' THEN con.confdeltype END,
       obj_description(con.oid, 'pg_constraint')
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class r ON r.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE con.contype IN ('p', 'u', 'c', 'x', 'f') AND {user_namespace}
ORDER BY con.conrelid, con.contype, con.conname
"""

INDEXES_SQL = """
SELECT i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid), am.amname,
       ARRAY(SELECT {index_column} FROM generate_series(1, i.indnkeyatts) k ORDER BY k),
       ARRAY(SELECT {index_column} FROM generate_series(i.indnkeyatts + 1, i.indnatts) k ORDER BY k),
       i.indisunique, i.indisprimary, i.indisvalid AND i.indisready,
       pg_get_expr(i.indpred, i.indrelid), i.indexprs IS NOT NULL,
       con.conname, pg_relation_size(i.indexrelid), s.idx_scan, obj_description(i.indexrelid, 'pg_class')
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
     AND con.contype IN ('p', 'u', 'x')
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
WHERE c.relkind IN ('r', 'p', 'm') AND {user_namespace}
ORDER BY i.indrelid, ic.relname
"""

SEQUENCES_SQL = """
SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
       s.seqcycle,
       CASE WHEN has_sequence_privilege(c.oid, 'SELECT,USAGE') THEN pg_sequence_last_value(c.oid) END,
       tn.nspname, t.relname, a.attname,
       CASE d.deptype WHEN 'a' THEN 'serial' WHEN 'i' THEN 'identity' END
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
     AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
LEFT JOIN pg_class t ON t.oid = d.refobjid
LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE {user_namespace} AND {not_extension_member_class}
ORDER BY n.nspname, c.relname
"""

TRIGGERS_SQL = """
SELECT t.tgrelid, t.tgname, pg_get_triggerdef(t.oid, true), t.tgenabled
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND {user_namespace}
ORDER BY t.tgrelid, t.tgname
"""

ENUMS_SQL = """
SELECT n.nspname, t.typname, ARRAY(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'e' AND {user_namespace}
  AND {not_extension_member_type}
ORDER BY n.nspname, t.typname
"""

DOMAINS_SQL = """
SELECT n.nspname, t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault,
       ARRAY(SELECT pg_get_constraintdef(con.oid, true) FROM pg_constraint con
             WHERE con.contypid = t.oid AND con.contype = 'c' ORDER BY con.conname)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'd' AND {user_namespace}
  AND {not_extension_member_type}
ORDER BY n.nspname, t.typname
"""

COMPOSITES_SQL = """
SELECT n.nspname, t.typname,
       ARRAY(SELECT ARRAY[a.attname::text, format_type(a.atttypid, a.atttypmod)] FROM pg_attribute a
             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'
WHERE t.typtype = 'c' AND {user_namespace}
  AND {not_extension_member_type}
ORDER BY n.nspname, t.typname
"""

FUNCTIONS_SQL = """
SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
       CASE WHEN p.prokind IN ('f', 'w') THEN pg_get_function_result(p.oid) END, p.prokind, l.lanname
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE {user_namespace} AND {not_extension_member_proc}
ORDER BY n.nspname, p.proname, 3
"""

EXTENSIONS_SQL = """
SELECT x.extname, x.extversion, n.nspname
FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace
ORDER BY x.extname
"""

ALL_QUERIES = (
    VERSION_SQL,
    SCHEMAS_SQL,
    RELATIONS_SQL,
    COLUMNS_SQL,
    CONSTRAINTS_SQL,
    INDEXES_SQL,
    TRIGGERS_SQL,
    SEQUENCES_SQL,
    ENUMS_SQL,
    DOMAINS_SQL,
    COMPOSITES_SQL,
    FUNCTIONS_SQL,
    EXTENSIONS_SQL,
)


def compose(template: str) -> sql.Composed:
    return sql.SQL(template).format(**{k: v for k, v in FRAGMENTS.items() if "{" + k + "}" in template})


def _rows(cur: psycopg.Cursor, query: str) -> list[tuple]:
    # Marked as the dashboard's own, so schema reads do not count as user activity that would keep a
    # Neon compute awake.
    cur.execute(compose(mark(query, "schema")))
    return cur.fetchall()


def read_catalog(cur: psycopg.Cursor) -> Catalog:
    """Read the whole schema; `cur` must be inside a read-only transaction with timeouts."""
    version, version_num, database = _rows(cur, VERSION_SQL)[0]
    catalog = Catalog(server_version=version, server_version_num=version_num, database=database)
    catalog.schemas = [SchemaInfo(*row) for row in _rows(cur, SCHEMAS_SQL)]
    by_oid = _read_relations(cur, catalog)
    _read_columns(cur, by_oid)
    _read_constraints(cur, by_oid)
    _read_indexes(cur, by_oid)
    for oid, name, definition, enabled in _rows(cur, TRIGGERS_SQL):
        if oid in by_oid:
            by_oid[oid].triggers.append(Trigger(name=name, definition=definition, enabled=enabled))
    catalog.sequences = [_sequence(row) for row in _rows(cur, SEQUENCES_SQL)]
    catalog.enums = [EnumType(schema, name, list(labels)) for schema, name, labels in _rows(cur, ENUMS_SQL)]
    catalog.domains = [
        Domain(schema, name, base, not_null, default, list(checks))
        for schema, name, base, not_null, default, checks in _rows(cur, DOMAINS_SQL)
    ]
    catalog.composites = [
        CompositeType(schema, name, [list(a) for a in attrs])
        for schema, name, attrs in _rows(cur, COMPOSITES_SQL)
    ]
    catalog.functions = [Function(*row) for row in _rows(cur, FUNCTIONS_SQL)]
    catalog.extensions = [Extension(*row) for row in _rows(cur, EXTENSIONS_SQL)]
    link_incoming_foreign_keys(catalog)
    return catalog


def _read_relations(cur: psycopg.Cursor, catalog: Catalog) -> dict[int, Relation]:
    by_oid: dict[int, Relation] = {}
    for row in _rows(cur, RELATIONS_SQL):
        (oid, schema, name, kind, owner, persistence, is_partition, parent_schema, parent_name, bound, key,
         rows, table_bytes, toast_bytes, comment, view_def, live, dead, seq_scans, idx_scans,
         last_vacuum, last_analyze, row_security) = row  # fmt: skip
        relation = Relation(
            schema=schema, name=name, kind=kind, owner=owner, persistence=persistence,
            is_partition=is_partition, parent_schema=parent_schema, parent_name=parent_name,
            partition_bound=bound, partition_key=key, row_estimate=rows, table_bytes=table_bytes,
            toast_bytes=toast_bytes, comment=comment, view_definition=view_def,
            live_tuples=live, dead_tuples=dead, seq_scans=seq_scans, index_scans=idx_scans,
            last_vacuum=last_vacuum, last_analyze=last_analyze, row_security=row_security,
        )  # fmt: skip
        by_oid[oid] = relation
        catalog.relations.append(relation)
    return by_oid


def _read_columns(cur: psycopg.Cursor, by_oid: dict[int, Relation]) -> None:
    for oid, name, position, type_, type_name, type_schema, type_kind, not_null, default, identity, generated, \
            collation, comment in _rows(cur, COLUMNS_SQL):  # fmt: skip
        if oid in by_oid:
            by_oid[oid].columns.append(Column(
                name=name, position=position, type=type_, type_name=type_name, type_schema=type_schema,
                type_kind=type_kind, not_null=not_null, default=default, identity=identity,
                generated=generated, collation=collation, comment=comment,
            ))  # fmt: skip


def _read_constraints(cur: psycopg.Cursor, by_oid: dict[int, Relation]) -> None:
    for oid, name, kind, definition, columns, validated, deferrable, deferred, ref_schema, ref_table, \
            ref_columns, on_update, on_delete, comment in _rows(cur, CONSTRAINTS_SQL):  # fmt: skip
        if oid in by_oid:
            by_oid[oid].constraints.append(Constraint(
                name=name, kind=kind, definition=definition, columns=list(columns), validated=validated,
                deferrable=deferrable, initially_deferred=deferred, ref_schema=ref_schema,
                ref_table=ref_table, ref_columns=list(ref_columns), on_update=on_update,
                on_delete=on_delete, comment=comment,
            ))  # fmt: skip


def _read_indexes(cur: psycopg.Cursor, by_oid: dict[int, Relation]) -> None:
    for oid, name, definition, method, columns, include, unique, primary, valid, predicate, has_expr, \
            constraint, size, scans, comment in _rows(cur, INDEXES_SQL):  # fmt: skip
        if oid in by_oid:
            by_oid[oid].index_bytes += size
            by_oid[oid].indexes.append(Index(
                name=name, definition=definition, method=method, columns=list(columns), include=list(include),
                unique=unique, primary=primary, valid=valid, predicate=predicate, has_expressions=has_expr,
                constraint=constraint, size_bytes=size, scans=scans, comment=comment,
            ))  # fmt: skip


def _sequence(row: tuple) -> Sequence:
    schema, name, data_type, start, increment, min_value, max_value, cycle, last_value, \
        owner_schema, owner_table, owner_column, owned_as = row  # fmt: skip
    return Sequence(
        schema=schema, name=name, data_type=data_type, start=start, increment=increment, min_value=min_value,
        max_value=max_value, cycle=cycle, last_value=last_value, owned_by_schema=owner_schema,
        owned_by_table=owner_table, owned_by_column=owner_column, owned_as=owned_as,
    )  # fmt: skip


def link_incoming_foreign_keys(catalog: Catalog) -> None:
    """Record on each referenced relation the foreign keys pointing at it (for links and the diagram)."""
    incoming: dict[tuple[str, str], list[ForeignKeyRef]] = defaultdict(list)
    for relation in catalog.relations:
        for fk in relation.foreign_keys:
            incoming[(fk.ref_schema, fk.ref_table)].append(
                ForeignKeyRef(relation.schema, relation.name, fk.name, fk.columns, fk.ref_columns)
            )
    for relation in catalog.relations:
        relation.incoming = incoming.get((relation.schema, relation.name), [])


def read_catalog_from_url(url: str, cfg: TargetSettings) -> Catalog:
    """Connect (timeouts, cold-start retries), read the catalog read-only, close.

    Raises TargetError with a message safe to show; a lock held by another session
    gives code "busy" ("catalog busy, try again") once the lock timeout expires.
    """
    connected = connect(url, cfg)
    try:
        with connected.conn as conn:
            with read_only(conn, cfg) as cur:
                return read_catalog(cur)
    except psycopg.Error as exc:
        raise explain_query_error(exc) from None
