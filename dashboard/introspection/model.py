"""What a schema snapshot holds: plain dataclasses that round-trip through JSON.

Names are kept exactly as the catalog returns them (they may contain quotes,
spaces, unicode or markup); escaping is the job of whoever renders them.
"""

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
    return asdict(relation)


# Statistics that change without any schema change; left out of the structure fingerprint.
VOLATILE_RELATION_FIELDS = (
    "row_estimate", "table_bytes", "toast_bytes", "index_bytes", "live_tuples", "dead_tuples",
    "seq_scans", "index_scans", "last_vacuum", "last_analyze",
)  # fmt: skip
VOLATILE_INDEX_FIELDS = ("size_bytes", "scans")


def _structural_relation(relation: dict) -> dict:
    relation = {k: v for k, v in relation.items() if k not in VOLATILE_RELATION_FIELDS and k != "findings"}
    relation["indexes"] = [
        {k: v for k, v in i.items() if k not in VOLATILE_INDEX_FIELDS} for i in relation["indexes"]
    ]
    return relation


def relation_fingerprint(relation: Relation) -> str:
    """A hash of one relation's own structure (not statistics, not keys pointing at it from elsewhere).

    Two snapshots' relations with equal fingerprints have no differences for the diff, so a diff
    only needs to load the relations whose fingerprints differ.
    """
    import hashlib
    import json

    data = _structural_relation(asdict(relation))
    data.pop("incoming", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def structure_fingerprint(catalog: Catalog) -> str:
    """A hash of the schema's structure only, so two captures of an unchanged schema compare equal."""
    import hashlib
    import json

    data = catalog.to_dict()
    data.pop("server_version", None)
    data.pop("server_version_num", None)
    data["relations"] = [_structural_relation(r) for r in data["relations"]]
    for sequence in data["sequences"]:
        sequence.pop("last_value", None)
    encoded = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()
