"""What a schema snapshot holds: plain dataclasses that round-trip through JSON.

Names are kept exactly as the catalog returns them (they may contain quotes,
spaces, unicode or markup); escaping is the job of whoever renders them.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields

RELATION_KINDS = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
}
FK_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
CONSTRAINT_KINDS = {
    "p": "primary key",
    "u": "unique",
    "c": "check",
    "x": "exclusion",
    "f": "foreign key",
    "t": "trigger",
}


@dataclass
class Column:
    name: str
    position: int
    type: str  # format_type(), e.g. "character varying(20)"
    type_name: str  # the base type's name, e.g. "varchar", "int4", "my_enum"
    type_schema: str
    type_kind: str  # pg_type.typtype: b base, e enum, d domain, c composite, r range
    not_null: bool
    default: str | None = None
    identity: str = ""  # "" | "always" | "by default"
    generated: str | None = None  # the expression of a stored generated column
    collation: str | None = None  # only when it differs from the type's default
    comment: str | None = None


@dataclass
class Constraint:
    name: str
    kind: str  # p u c x f (see CONSTRAINT_KINDS)
    definition: str
    columns: list[str] = field(default_factory=list)
    validated: bool = True
    deferrable: bool = False
    initially_deferred: bool = False
    # Foreign keys only.
    ref_schema: str | None = None
    ref_table: str | None = None
    ref_columns: list[str] = field(default_factory=list)
    on_update: str | None = None
    on_delete: str | None = None
    comment: str | None = None

    @property
    def kind_label(self) -> str:
        return CONSTRAINT_KINDS.get(self.kind, self.kind)


@dataclass
class Index:
    name: str
    definition: str
    method: str
    columns: list[str]  # key columns or expressions, in order
    include: list[str] = field(default_factory=list)
    unique: bool = False
    primary: bool = False
    valid: bool = True
    predicate: str | None = None
    has_expressions: bool = False
    constraint: str | None = None  # the constraint this index enforces, if any
    size_bytes: int = 0
    scans: int | None = None
    comment: str | None = None

    @property
    def partial(self) -> bool:
        return self.predicate is not None


@dataclass
class Trigger:
    name: str
    definition: str
    enabled: str  # O origin, D disabled, R replica, A always


@dataclass
class ForeignKeyRef:
    """An incoming foreign key: another relation pointing at this one."""

    schema: str
    table: str
    name: str
    columns: list[str]
    ref_columns: list[str]


@dataclass
class Relation:
    schema: str
    name: str
    kind: str  # r p v m f (see RELATION_KINDS)
    owner: str = ""
    persistence: str = "p"  # p permanent, u unlogged
    is_partition: bool = False
    parent_schema: str | None = None
    parent_name: str | None = None
    partition_bound: str | None = None
    partition_key: str | None = None
    row_estimate: int | None = None  # None: never analyzed
    table_bytes: int = 0
    toast_bytes: int = 0
    index_bytes: int = 0
    comment: str | None = None
    view_definition: str | None = None
    live_tuples: int | None = None
    dead_tuples: int | None = None
    seq_scans: int | None = None
    index_scans: int | None = None
    last_vacuum: str | None = None
    last_analyze: str | None = None
    row_security: bool = False
    columns: list[Column] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    triggers: list[Trigger] = field(default_factory=list)
    incoming: list[ForeignKeyRef] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return RELATION_KINDS.get(self.kind, self.kind)

    @property
    def total_bytes(self) -> int:
        return self.table_bytes + self.toast_bytes + self.index_bytes

    @property
    def primary_key(self) -> Constraint | None:
        return next((c for c in self.constraints if c.kind == "p"), None)

    @property
    def foreign_keys(self) -> list[Constraint]:
        return [c for c in self.constraints if c.kind == "f"]

    @property
    def is_table(self) -> bool:
        return self.kind in ("r", "p")


@dataclass
class Sequence:
    schema: str
    name: str
    data_type: str
    start: int
    increment: int
    min_value: int
    max_value: int
    cycle: bool
    last_value: int | None = None
    owned_by_schema: str | None = None
    owned_by_table: str | None = None
    owned_by_column: str | None = None
    owned_as: str | None = None  # "serial" (auto dependency) or "identity" (internal)

    @property
    def used_share(self) -> float | None:
        """Share of the range already handed out (0..1), None before the first nextval."""
        if self.last_value is None:
            return None
        if self.increment > 0:
            return (self.last_value - self.min_value) / max(1, self.max_value - self.min_value)
        return (self.max_value - self.last_value) / max(1, self.max_value - self.min_value)


@dataclass
class EnumType:
    schema: str
    name: str
    labels: list[str]


@dataclass
class Domain:
    schema: str
    name: str
    base_type: str
    not_null: bool
    default: str | None
    checks: list[str]


@dataclass
class CompositeType:
    schema: str
    name: str
    attributes: list[list[str]]  # [name, type]


@dataclass
class Function:
    schema: str
    name: str
    arguments: str
    result: str | None
    kind: str  # f function, p procedure, a aggregate, w window
    language: str

    @property
    def signature(self) -> str:
        return f"{self.name}({self.arguments})"


@dataclass
class Extension:
    name: str
    version: str
    schema: str


@dataclass
class SchemaInfo:
    name: str
    owner: str
    comment: str | None = None


@dataclass
class Catalog:
    server_version: str
    server_version_num: int
    database: str
    schemas: list[SchemaInfo] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    sequences: list[Sequence] = field(default_factory=list)
    enums: list[EnumType] = field(default_factory=list)
    domains: list[Domain] = field(default_factory=list)
    composites: list[CompositeType] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)

    def relation(self, schema: str, name: str) -> Relation | None:
        return next((r for r in self.relations if r.schema == schema and r.name == name), None)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Catalog":
        return cls(
            server_version=data["server_version"],
            server_version_num=data["server_version_num"],
            database=data.get("database", ""),
            schemas=_load_list(SchemaInfo, data.get("schemas")),
            relations=[relation_from_dict(r) for r in data.get("relations", [])],
            sequences=_load_list(Sequence, data.get("sequences")),
            enums=_load_list(EnumType, data.get("enums")),
            domains=_load_list(Domain, data.get("domains")),
            composites=_load_list(CompositeType, data.get("composites")),
            functions=_load_list(Function, data.get("functions")),
            extensions=_load_list(Extension, data.get("extensions")),
        )


def _known(cls, data: dict) -> dict:
    """Only the keys the dataclass knows, so snapshots written by older or newer code still load."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _load_list(cls, items) -> list:
    return [cls(**_known(cls, item)) for item in items or []]


def relation_from_dict(data: dict) -> Relation:
    values = _known(Relation, data)
    values["columns"] = _load_list(Column, data.get("columns"))
    values["constraints"] = _load_list(Constraint, data.get("constraints"))
    values["indexes"] = _load_list(Index, data.get("indexes"))
    values["triggers"] = _load_list(Trigger, data.get("triggers"))
    values["incoming"] = _load_list(ForeignKeyRef, data.get("incoming"))
    return Relation(**values)


def relation_to_dict(relation: Relation) -> dict:
    """The relation as plain dicts (what dataclasses.asdict gives, without its deep copies: many times faster)."""
    data = dict(relation.__dict__)
    for key in ("columns", "constraints", "indexes", "triggers", "incoming"):
        data[key] = [dict(item.__dict__) for item in data[key]]
    return data


def objects_to_dict(catalog: Catalog) -> dict:
    """Everything of the catalog except its relations, as plain dicts."""
    keys = ("schemas", "sequences", "enums", "domains", "composites", "functions", "extensions")
    return {key: [dict(item.__dict__) for item in getattr(catalog, key)] for key in keys}


# Statistics that change without any schema change; left out of the structure fingerprint.
VOLATILE_RELATION_FIELDS = (
    "row_estimate", "table_bytes", "toast_bytes", "index_bytes", "live_tuples", "dead_tuples",
    "seq_scans", "index_scans", "last_vacuum", "last_analyze",
)  # fmt: skip
VOLATILE_INDEX_FIELDS = ("size_bytes", "scans")


def canonical_json(data) -> str:
    """One text per value (sorted keys, no spaces): equal structures give equal texts and hashes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def relation_structure(relation: dict) -> dict:
    """A relation dict without statistics and findings: what stays equal while the schema does not change."""
    relation = {k: v for k, v in relation.items() if k not in VOLATILE_RELATION_FIELDS and k != "findings"}
    relation["indexes"] = [
        {k: v for k, v in i.items() if k not in VOLATILE_INDEX_FIELDS} for i in relation["indexes"]
    ]
    return relation


def relation_statistics(relation: dict) -> dict:
    """The statistics relation_structure() leaves out; "indexes" holds [size_bytes, scans] per index, in order."""
    stats = {k: relation.get(k) for k in VOLATILE_RELATION_FIELDS}
    stats["indexes"] = [[i.get("size_bytes", 0), i.get("scans")] for i in relation["indexes"]]
    return stats


def join_relation(structure: dict, stats: dict) -> dict:
    """relation_structure() and relation_statistics() put back together into one relation dict."""
    data = {**structure, **{k: v for k, v in stats.items() if k != "indexes"}}
    sizes = stats.get("indexes") or []
    data["indexes"] = [
        {**index, **dict(zip(VOLATILE_INDEX_FIELDS, sizes[n], strict=True))} if n < len(sizes) else index
        for n, index in enumerate(structure.get("indexes", []))
    ]
    return data


def relation_fingerprint(relation: Relation) -> str:
    """A hash of one relation's own structure (not statistics, not keys pointing at it from elsewhere)."""
    data = relation_structure(relation_to_dict(relation))
    data.pop("incoming", None)
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


def structure_fingerprint(catalog: Catalog, relation_texts: list[str] | None = None) -> str:
    """A hash of the schema's structure only, so two captures of an unchanged schema compare equal.

    `relation_texts`: canonical_json(relation_structure(...)) of each relation, in catalog order,
    when the caller has them already (storing a snapshot does); the hash is the same either way.
    """
    if relation_texts is None:
        relation_texts = [canonical_json(relation_structure(relation_to_dict(r))) for r in catalog.relations]
    data = objects_to_dict(catalog) | {"database": catalog.database, "relations": []}
    data["sequences"] = [{k: v for k, v in q.items() if k != "last_value"} for q in data["sequences"]]
    # The hash of canonical_json() of the whole structure, with the relations' texts spliced in
    # rather than encoded again. A key "relations" can only appear once, at the top level: inside
    # strings JSON escapes the quotes.
    head, tail = canonical_json(data).split('"relations":[]', 1)
    digest = hashlib.sha256(f'{head}"relations":['.encode())
    for n, text in enumerate(relation_texts):
        digest.update((b"," if n else b"") + text.encode())
    digest.update(f"]{tail}".encode())
    return digest.hexdigest()
