"""Comparing two catalogs: added, removed and changed objects, grouped by object.

Works on Catalog dataclasses, whether they were just read from two branches or
loaded from two stored snapshots. Statistics (row estimates, sizes, scans,
sequence positions) are not schema and are ignored.
"""

from dataclasses import dataclass, field

from .model import Catalog, Relation

ADDED, REMOVED, CHANGED = "added", "removed", "changed"


@dataclass
class Change:
    part: str  # e.g. "column email", "index film_pkey", "kind"
    status: str  # added | removed | changed
    before: str | None = None
    after: str | None = None


@dataclass
class ObjectDiff:
    kind: str  # table, view, sequence, enum, domain, composite type, function, extension, schema
    schema: str | None
    name: str
    status: str
    changes: list[Change] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass
class CatalogDiff:
    objects: list[ObjectDiff]
    more: int = 0  # changed objects left out of `objects` by a limit

    @property
    def is_empty(self) -> bool:
        return not self.objects and not self.more

    def count(self, status: str) -> int:
        return sum(1 for o in self.objects if o.status == status)


def _compare_maps(before: dict[str, str], after: dict[str, str], part: str) -> list[Change]:
    changes = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        status = ADDED if old is None else REMOVED if new is None else CHANGED
        changes.append(Change(f"{part} {key}", status, old, new))
    return changes


def _column_text(c) -> str:
    parts = [c.type]
    if c.collation:
        parts.append(f"COLLATE {c.collation}")
    if c.not_null:
        parts.append("NOT NULL")
    if c.default is not None:
        parts.append(f"DEFAULT {c.default}")
    if c.identity:
        parts.append(f"GENERATED {c.identity.upper()} AS IDENTITY")
    if c.generated:
        parts.append(f"GENERATED ALWAYS AS ({c.generated}) STORED")
    return " ".join(parts)


def _constraint_text(c) -> str:
    text = c.definition
    if not c.validated and "NOT VALID" not in text:
        text += " NOT VALID"
    return text


def relation_changes(old: Relation, new: Relation) -> list[Change]:
    changes = []
    for attr in (
        "kind_label",
        "persistence",
        "partition_bound",
        "partition_key",
        "view_definition",
        "comment",
    ):
        a, b = getattr(old, attr), getattr(new, attr)
        if a != b:
            changes.append(Change(attr.replace("_label", "").replace("_", " "), CHANGED, a, b))
    changes += _compare_maps({c.name: _column_text(c) for c in old.columns},
                             {c.name: _column_text(c) for c in new.columns}, "column")  # fmt: skip
    changes += _compare_maps({c.name: c.comment or "" for c in old.columns if c.comment},
                             {c.name: c.comment or "" for c in new.columns if c.comment}, "comment on column")  # fmt: skip
    changes += _compare_maps({c.name: _constraint_text(c) for c in old.constraints},
                             {c.name: _constraint_text(c) for c in new.constraints}, "constraint")  # fmt: skip
    changes += _compare_maps({i.name: i.definition + ("" if i.valid else " (invalid)") for i in old.indexes},
                             {i.name: i.definition + ("" if i.valid else " (invalid)") for i in new.indexes},
                             "index")  # fmt: skip
    changes += _compare_maps({i.name: i.comment for i in old.indexes if i.comment},
                             {i.name: i.comment for i in new.indexes if i.comment}, "comment on index")  # fmt: skip
    changes += _compare_maps({c.name: c.comment for c in old.constraints if c.comment},
                             {c.name: c.comment for c in new.constraints if c.comment},
                             "comment on constraint")  # fmt: skip
    changes += _compare_maps({t.name: t.definition for t in old.triggers}, {t.name: t.definition for t in new.triggers},
                             "trigger")  # fmt: skip
    return changes


def _other_objects(catalog: Catalog) -> dict[tuple[str, str | None, str], str]:
    """Every non-relation object keyed by (kind, schema, name) with a text that changes when it changes."""
    objects: dict[tuple[str, str | None, str], str] = {}
    for s in catalog.schemas:
        objects[("schema", None, s.name)] = f"owner {s.owner}" + (
            f"; comment {s.comment}" if s.comment else ""
        )
    for q in catalog.sequences:
        objects[("sequence", q.schema, q.name)] = (
            f"{q.data_type} start {q.start} increment {q.increment} min {q.min_value} max {q.max_value}"
            f"{' cycle' if q.cycle else ''}"
        )
    for e in catalog.enums:
        objects[("enum", e.schema, e.name)] = ", ".join(e.labels)
    for d in catalog.domains:
        objects[("domain", d.schema, d.name)] = " ".join(
            [d.base_type] + (["NOT NULL"] if d.not_null else []) + ([f"DEFAULT {d.default}"] if d.default else [])
            + d.checks
        )  # fmt: skip
    for c in catalog.composites:
        objects[("composite type", c.schema, c.name)] = ", ".join(f"{n} {t}" for n, t in c.attributes)
    for f in catalog.functions:
        objects[("function", f.schema, f.signature)] = f"returns {f.result} language {f.language}"
    for x in catalog.extensions:
        objects[("extension", None, x.name)] = f"version {x.version} in schema {x.schema}"
    return objects


def diff_catalogs(old: Catalog, new: Catalog, limit: int | None = None) -> CatalogDiff:
    """Objects that were added, removed or changed from `old` to `new`, sorted by kind, schema and name.

    With `limit`, only the first `limit` objects are listed and `more` counts the others.
    """
    result: list[ObjectDiff] = []
    old_rel = {(r.schema, r.name): r for r in old.relations}
    new_rel = {(r.schema, r.name): r for r in new.relations}
    for key in sorted(old_rel.keys() | new_rel.keys()):
        a, b = old_rel.get(key), new_rel.get(key)
        if a is None:
            result.append(ObjectDiff(b.kind_label, b.schema, b.name, ADDED))
        elif b is None:
            result.append(ObjectDiff(a.kind_label, a.schema, a.name, REMOVED))
        else:
            changes = relation_changes(a, b)
            if changes:
                result.append(ObjectDiff(b.kind_label, b.schema, b.name, CHANGED, changes))
    old_other, new_other = _other_objects(old), _other_objects(new)
    for key in sorted(old_other.keys() | new_other.keys(), key=lambda k: (k[0], k[1] or "", k[2])):
        kind, schema, name = key
        a, b = old_other.get(key), new_other.get(key)
        if a == b:
            continue
        if a is None:
            result.append(ObjectDiff(kind, schema, name, ADDED, [Change("definition", ADDED, None, b)]))
        elif b is None:
            result.append(ObjectDiff(kind, schema, name, REMOVED, [Change("definition", REMOVED, a, None)]))
        else:
            result.append(ObjectDiff(kind, schema, name, CHANGED, [Change("definition", CHANGED, a, b)]))
    if limit is not None and len(result) > limit:
        return CatalogDiff(result[:limit], more=len(result) - limit)
    return CatalogDiff(result)


# Parts of a relation's changes, longest first (names after them may hold spaces), and their labels.
PART_LABELS = (("comment on column", "column comment"), ("comment on index", "index comment"),
               ("comment on constraint", "constraint comment"), ("column", "column"),
               ("constraint", "constraint"), ("index", "index"), ("trigger", "trigger"))  # fmt: skip
STATUS_ORDER = (ADDED, REMOVED, CHANGED)


def _part_label(part: str) -> str:
    return next((label for prefix, label in PART_LABELS if part.startswith(prefix + " ")), part)


def _plural(word: str, count: int) -> str:
    if count == 1:
        return word
    return word + ("es" if word.endswith(("x", "s", "ch")) else "s")


def summarize(diff: CatalogDiff) -> str:
    """One line for a diff, e.g. "+2 tables, 1 index changed": added and removed objects by kind,
    then what changed inside changed relations (columns, indexes, constraints, ...) or other objects."""
    counts: dict[tuple[str, str], int] = {}
    for obj in diff.objects:
        inner = [c for c in obj.changes if c.part != "definition"] if obj.status == CHANGED else []
        for status, what in [(c.status, _part_label(c.part)) for c in inner] or [(obj.status, obj.kind)]:
            counts[(status, what)] = counts.get((status, what), 0) + 1
    if not counts:
        return "no visible change"
    signs = {ADDED: "+{n} {what}", REMOVED: "-{n} {what}", CHANGED: "{n} {what} changed"}
    ordered = sorted(counts.items(), key=lambda item: STATUS_ORDER.index(item[0][0]))
    return ", ".join(signs[status].format(n=n, what=_plural(what, n)) for (status, what), n in ordered)
