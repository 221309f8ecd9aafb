"""The advisor's rules. Each rule has an id, a severity, a title and an explanation,
and returns findings for a Catalog; a finding carries fix SQL where a fix makes sense.

Fix SQL quotes every catalog name with psycopg.sql.Identifier; it is a proposal
that starts a migration draft, never something the advisor runs itself.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from psycopg import sql

from dashboard.introspection.model import Catalog, Column, Index, Relation

SEVERITIES = ("error", "warning", "info")
# Thresholds: keyword arguments of run_rules, so tests can build small schemas for each rule.
DEFAULTS = {
    "unused_index_min_bytes": 1024 * 1024,
    "range_used_share": 0.75,
    "dead_tuples_min": 10_000,
    "dead_tuples_share": 0.2,
}
INT_MAX = {"smallint": 32767, "integer": 2147483647, "bigint": 9223372036854775807}


@dataclass
class Finding:
    rule: str
    severity: str
    title: str
    message: str
    schema: str | None = None
    table: str | None = None
    object: str | None = None
    fix_sql: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Rule:
    id: str
    severity: str
    title: str
    explanation: str
    check: Callable = field(repr=False)


RULES: list[Rule] = []


def rule(rule_id: str, severity: str, title: str, explanation: str):
    def register(check):
        RULES.append(Rule(rule_id, severity, title, explanation, check))
        return check

    return register


def ident(*names: str) -> str:
    return sql.Identifier(*names).as_string()


def qualified(relation: Relation) -> str:
    return ident(relation.schema, relation.name)


def finding(
    r: Rule, relation: Relation | None, message: str, obj: str | None = None, fix: str = ""
) -> Finding:
    return Finding(
        rule=r.id, severity=r.severity, title=r.title, message=message,
        schema=relation.schema if relation else None, table=relation.name if relation else None,
        object=obj, fix_sql=fix,
    )  # fmt: skip


def tables(catalog: Catalog) -> list[Relation]:
    return [r for r in catalog.relations if r.is_table]


def rule_by_id(rule_id: str) -> Rule:
    return next(r for r in RULES if r.id == rule_id)


def run_rules(catalog: Catalog, **options) -> list[Finding]:
    """All findings, most severe first, then by table."""
    opts = {**DEFAULTS, **options}
    findings: list[Finding] = []
    for r in RULES:
        findings.extend(r.check(r, catalog, opts))
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (order[f.severity], f.rule, f.schema or "", f.table or "", f.object or ""))
    return findings


# --- keys and constraints -------------------------------------------------------------


@rule("no-primary-key", "warning", "Table without a primary key",
      "Without a primary key rows cannot be addressed reliably: logical replication cannot send "
      "updates and deletes, ORMs and tools misbehave, and duplicates go unnoticed.")  # fmt: skip
def no_primary_key(r: Rule, catalog: Catalog, opts: dict) -> list[Finding]:
    return [
        finding(r, t, f"{t.schema}.{t.name} has no primary key.")
        for t in tables(catalog)
        if t.primary_key is None
    ]


def _covering_index(relation: Relation, columns: list[str]) -> Index | None:
    """A valid, non-partial index whose leading key columns are exactly the FK columns (any order)."""
    wanted = set(columns)
    for index in relation.indexes:
        lead = index.columns[: len(columns)]
        if index.valid and index.predicate is None and set(lead) == wanted and index.method == "btree":
            return index
    return None


@rule("fk-without-index", "warning", "Foreign key without a supporting index",
      "Deleting or updating a referenced row scans the referencing table when no index starts with the "
      "foreign-key columns; joins along the key are slow too.")  # fmt: skip
def fk_without_index(r: Rule, catalog: Catalog, opts: dict) -> list[Finding]:
    found = []
    for t in tables(catalog):
        for fk in t.foreign_keys:
            if _covering_index(t, fk.columns) is None:
                name = f"{t.name}_{'_'.join(fk.columns)}_idx"[:63]
                only = "ONLY " if t.kind == "p" else ""
                concurrently = "" if t.kind == "p" else "CONCURRENTLY "
                fix = (
                    f"CREATE INDEX {concurrently}{ident(name)} ON {only}{qualified(t)} "
                    f"({', '.join(ident(c) for c in fk.columns)});"
                )
                found.append(finding(r, t, f"Foreign key {fk.name} ({', '.join(fk.columns)}) has no index "
                                           "starting with its columns.", fk.name, fix))  # fmt: skip
    return found


@rule("not-valid-constraint", "warning", "Constraint never validated",
      "A NOT VALID constraint is only checked for new rows; existing rows may violate it and the planner "
      "cannot rely on it. VALIDATE CONSTRAINT takes only a SHARE UPDATE EXCLUSIVE lock.")  # fmt: skip
def not_valid_constraint(r: Rule, catalog: Catalog, opts: dict) -> list[Finding]:
    return [
        finding(
            r,
            t,
            f"Constraint {c.name} on {t.schema}.{t.name} is NOT VALID.",
            c.name,
            f"ALTER TABLE {qualified(t)} VALIDATE CONSTRAINT {ident(c.name)};",
        )  # fmt: skip
        for t in tables(catalog)
        for c in t.constraints
        if not c.validated
    ]


# --- indexes ------------------------------------------------------------------------


def _drop_index_sql(relation: Relation, index: Index) -> str:
    if index.constraint:
        return f"ALTER TABLE {qualified(relation)} DROP CONSTRAINT {ident(index.constraint)};"
    concurrently = "" if relation.kind == "p" else "CONCURRENTLY "
    return f"DROP INDEX {concurrently}{ident(relation.schema, index.name)};"


def _is_redundant(shorter: Index, longer: Index) -> bool:
    """`shorter` adds nothing when `longer` has the same method and predicate and starts with its columns."""
    if shorter.method != longer.method or shorter.predicate != longer.predicate or not longer.valid:
        return False
    if longer.columns[: len(shorter.columns)] != shorter.columns:
        return False
    if shorter.unique:
        # A unique index enforces uniqueness on exactly its columns; only an identical one replaces it.
        return longer.unique and longer.columns == shorter.columns
    return True


@rule("duplicate-index", "warning", "Duplicate index",
      "An index whose columns are a prefix of another index with the same method and predicate is "
      "redundant: it costs writes, memory and disk while the other index serves the same queries.")  # fmt: skip
def duplicate_index(r: Rule, catalog: Catalog, opts: dict) -> list[Finding]:
    found = []
    for t in tables(catalog):
        reported: set[str] = set()
        for a in t.indexes:
            for b in t.indexes:
                if a.name == b.name or a.name in reported or b.name in reported or not _is_redundant(a, b):
                    continue
                same = a.columns == b.columns and a.unique == b.unique
                if same and (
                    a.primary or (a.constraint and not b.constraint) or (a.name > b.name and not b.primary)
                ):
                    continue  # of two identical indexes, report the one that is not a constraint's
                reported.add(a.name)
                how = "is identical to" if same else "is a prefix of"
                found.append(finding(r, t, f"Index {a.name} ({', '.join(a.columns)}) {how} {b.name} "
                                           f"({', '.join(b.columns)}).", a.name, _drop_index_sql(t, a)))  # fmt: skip
    return found


@rule("invalid-index", "error", "Invalid index",
      "An index left invalid by a failed CREATE INDEX CONCURRENTLY is not used by queries but still "
      "slows every write. Rebuild it or drop it.")  # fmt: skip
def invalid_index(r: Rule, catalog: Catalog, opts: dict) -> list[Finding]:
    return [
        finding(
            r,
            t,
            f"Index {i.name} on {t.schema}.{t.name} is invalid.",
            i.name,
            f"REINDEX INDEX CONCURRENTLY {ident(t.schema, i.name)};",
        )  # fmt: skip
        for t in tables(catalog)
        for i in t.indexes
        if not i.valid
    ]


@rule("unused-index", "info", "Unused index",
      "A non-unique index never used for a scan costs writes and space. On Neon the usage counters "
      "are reset whenever the compute suspends or restarts, so 'never used' only covers the time "
      "since the last start: check over a representative period before dropping.")  # fmt: skip
def unused_index(r: Rule, catalog: Catalog, opts: dict) -> list[Finding]:
    found = []
    for t in tables(catalog):
        for i in t.indexes:
            if i.unique or i.constraint or not i.valid or i.scans != 0:
                continue
            if i.size_bytes < opts["unused_index_min_bytes"]:
                continue
            found.append(finding(r, t, f"Index {i.name} ({i.size_bytes // 1024} kB) has had no scans since "
                                       "statistics were last reset (on Neon: since the compute last started).",
                                 i.name, _drop_index_sql(t, i)))  # fmt: skip
    return found


# --- column types ---------------------------------------------------------------------


def _columns_of_type(catalog: Catalog, test: Callable[[Column], bool]):
    for t in tables(catalog):
        if t.is_partition:
            continue  # partitions share the parent's columns; report the parent once
        for c in t.columns:
            if test(c):
                yield t, c


def _alter_type(t: Relation, c: Column, new_type: str, using: str = "") -> str:
    column = ident(c.name)
    return f"ALTER TABLE {qualified(t)} ALTER COLUMN {column} TYPE {new_type}{using};"


@rule("json-not-jsonb", "warning", "json where jsonb fits",
      "jsonb is stored parsed: it can be indexed (GIN), compared and queried with containment operators; "
      "json only keeps the text. Use json only to preserve key order or duplicate keys.")  # fmt: skip
def json_not_jsonb(r: Rule, catalog: Catalog, opts: dict) -> list[Finding]:
    return [
        finding(
            r,
            t,
            f"Column {c.name} of {t.schema}.{t.name} is json.",
            c.name,
            _alter_type(t, c, "jsonb", f" USING {ident(c.name)}::jsonb"),
        )  # fmt: skip
        for t, c in _columns_of_type(
            catalog, lambda c: c.type_name == "json" and c.type_schema == "pg_catalog"
        )
    ]


@rule("timestamp-without-time-zone", "warning", "timestamp without time zone",
      "timestamp without time zone stores wall-clock values with no zone, so the same value means "
      "different instants for different clients. timestamptz stores instants and costs the same 8 bytes.")  # fmt: skip
def timestamp_without_tz(r: Rule, catalog: Catalog, opts: dict) -> list[Finding]:
    return [
        finding(
            r,
            t,
            f"Column {c.name} of {t.schema}.{t.name} is timestamp without time zone.",
            c.name,
            _alter_type(t, c, "timestamptz", f" USING {ident(c.name)} AT TIME ZONE 'UTC'"),
        )  # fmt: skip
        for t, c in _columns_of_type(
            catalog, lambda c: c.type_name == "timestamp" and c.type_schema == "pg_catalog"
        )
    ]


@rule("varchar-or-char-n", "info", "varchar(n) or char(n) where text fits",
      "In Postgres text and varchar have the same storage and speed; a length limit is a business rule "
      "better expressed as a CHECK constraint that can change without a table rewrite. char(n) pads "
      "with spaces and surprises comparisons.")  # fmt: skip
def varchar_or_char(r: Rule, catalog: Catalog, opts: dict) -> list[Finding]:
    def limited(c: Column) -> bool:
        return c.type_schema == "pg_catalog" and c.type_name in ("varchar", "bpchar") and "(" in c.type

    return [
        finding(
            r, t, f"Column {c.name} of {t.schema}.{t.name} is {c.type}.", c.name, _alter_type(t, c, "text")
        )
        for t, c in _columns_of_type(catalog, limited)
    ]


def _serial_sequence(catalog: Catalog, t: Relation, c: Column):
    return next(
        (s for s in catalog.sequences
         if s.owned_by_schema == t.schema and s.owned_by_table == t.name and s.owned_by_column == c.name),
        None,
    )  # fmt: skip


@rule("serial-not-identity", "info", "serial where an identity column fits",
      "Identity columns (GENERATED ... AS IDENTITY) are the SQL-standard replacement for serial: the "
      "sequence belongs to the column, permissions follow the table and GENERATED ALWAYS prevents "
      "accidental manual values.")  # fmt: skip
def serial_not_identity(r: Rule, catalog: Catalog, opts: dict) -> list[Finding]:
    found = []
    for t, c in _columns_of_type(
        catalog, lambda c: not c.identity and (c.default or "").startswith("nextval(")
    ):
        seq = _serial_sequence(catalog, t, c)
        column = ident(c.name)
        steps = [f"ALTER TABLE {qualified(t)} ALTER COLUMN {column} DROP DEFAULT;"]
        if seq is not None:
            steps.append(f"DROP SEQUENCE {ident(seq.schema, seq.name)};")
        restart = sql.SQL(
            "SELECT setval(pg_get_serial_sequence({}, {}), coalesce(max({}), 0) + 1, false) FROM {};"
        ).format(sql.Literal(qualified(t)), sql.Literal(c.name), sql.Identifier(c.name),
                 sql.Identifier(t.schema, t.name)).as_string()  # fmt: skip
        steps += [
            f"ALTER TABLE {qualified(t)} ALTER COLUMN {column} ADD GENERATED BY DEFAULT AS IDENTITY;",
            restart,
        ]
        found.append(finding(r, t, f"Column {c.name} of {t.schema}.{t.name} takes its default from a sequence "
                                   f"({c.default}).", c.name, "\n".join(steps)))  # fmt: skip
    return found


@rule("key-range-used", "error", "Integer key or sequence past 75% of its range",
      "When a sequence reaches its maximum, or hands out values beyond what its integer column holds, "
      "every insert fails. Widening a column to bigint rewrites the table: plan it early.")  # fmt: skip
def key_range_used(r: Rule, catalog: Catalog, opts: dict) -> list[Finding]:
    found = []
    for seq in catalog.sequences:
        column_type, relation = _owning_column_type(catalog, seq)
        narrow_column = relation is not None and column_type in ("smallint", "integer")
        limit = min(seq.max_value, INT_MAX[column_type]) if narrow_column else seq.max_value
        if seq.last_value is None or seq.increment <= 0:
            share = seq.used_share
        else:
            share = (seq.last_value - seq.min_value) / max(1, limit - seq.min_value)
        if share is None or share < opts["range_used_share"]:
            continue
        widen_sequence = (
            f"ALTER SEQUENCE {ident(seq.schema, seq.name)} AS bigint MAXVALUE 9223372036854775807;"
        )
        if narrow_column:
            what = f"column {seq.owned_by_column} ({column_type}) of {relation.schema}.{relation.name}"
            fix = (f"ALTER TABLE {qualified(relation)} ALTER COLUMN {ident(seq.owned_by_column)} TYPE bigint;\n"
                   + widen_sequence)  # fmt: skip
        else:
            what = f"sequence {seq.schema}.{seq.name} ({seq.data_type})"
            fix = widen_sequence
        message = (
            f"{share:.0%} of the range of {what} is used (sequence {seq.name}, last value {seq.last_value})."
        )
        found.append(Finding(rule=r.id, severity=r.severity, title=r.title, message=message,
                             schema=relation.schema if relation else seq.schema,
                             table=relation.name if relation else None, object=seq.name, fix_sql=fix))  # fmt: skip
    return found


def _owning_column_type(catalog: Catalog, seq) -> tuple[str | None, Relation | None]:
    if not seq.owned_by_table:
        return None, None
    relation = catalog.relation(seq.owned_by_schema, seq.owned_by_table)
    if relation is None:
        return None, None
    column = next((c for c in relation.columns if c.name == seq.owned_by_column), None)
    return (column.type if column else None), relation


# --- maintenance ----------------------------------------------------------------------


@rule("dead-tuples", "warning", "Many dead tuples",
      "Dead tuples waste space and slow scans until vacuum removes them; many of them mean autovacuum "
      "is not keeping up (or is blocked by a long transaction).")  # fmt: skip
def dead_tuples(r: Rule, catalog: Catalog, opts: dict) -> list[Finding]:
    found = []
    for t in tables(catalog):
        dead, live = t.dead_tuples or 0, t.live_tuples or 0
        if dead >= opts["dead_tuples_min"] and dead >= opts["dead_tuples_share"] * (dead + live):
            found.append(finding(r, t, f"{t.schema}.{t.name} has {dead} dead and {live} live tuples.", None,
                                 f"VACUUM (ANALYZE) {qualified(t)};"))  # fmt: skip
    return found


@rule("never-analyzed", "info", "Table never analyzed",
      "Without statistics the planner guesses row counts and may pick bad plans. Autovacuum analyzes "
      "a table only after enough changes; run ANALYZE after bulk loads.")  # fmt: skip
def never_analyzed(r: Rule, catalog: Catalog, opts: dict) -> list[Finding]:
    return [
        finding(
            r, t, f"{t.schema}.{t.name} has no statistics (never analyzed).", None, f"ANALYZE {qualified(t)};"
        )
        for t in tables(catalog)
        if t.kind == "r" and t.last_analyze is None and t.row_estimate is None and _has_rows(t)
    ]


def _has_rows(t: Relation) -> bool:
    """An empty, never-analyzed table is normal (just created); one holding data is not."""
    return (t.live_tuples or 0) > 0 or t.table_bytes > 0
