"""What each statement is, read from its parse tree: transactional or not, refused, destructive, relations.

Postgres refuses some statements inside a transaction block; the applier runs
those on their own. User-written transaction control is refused because the
applier owns transactions. Destructive statements lose data or break clients
and need the author's acknowledgement.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class RelationName:
    """A relation as the SQL names it; schema None means "found through search_path"."""

    schema: str | None
    name: str

    @property
    def sql(self) -> str:
        """Quoted for Postgres (to_regclass accepts it whatever characters the name holds)."""
        quoted = '"' + self.name.replace('"', '""') + '"'
        return quoted if self.schema is None else '"' + self.schema.replace('"', '""') + '".' + quoted

    @property
    def display(self) -> str:
        return self.name if self.schema is None else f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class ConcurrentIndex:
    """A CREATE INDEX CONCURRENTLY: the index it builds (name may be None: Postgres picks one) on a table."""

    name: str | None
    table: RelationName


@dataclass(frozen=True)
class Facts:
    kind: str  # the AST node's name, e.g. "IndexStmt"
    non_transactional: str | None  # why it must run outside a transaction block
    refused: str | None  # why the applier refuses it
    destructive: str | None  # what it destroys
    creates: tuple[RelationName, ...]  # relations it creates
    concurrent_index: ConcurrentIndex | None


REFUSED_TRANSACTION_KINDS = {
    "TRANS_STMT_BEGIN": "BEGIN",
    "TRANS_STMT_START": "START TRANSACTION",
    "TRANS_STMT_COMMIT": "COMMIT",
    "TRANS_STMT_ROLLBACK": "ROLLBACK",
    "TRANS_STMT_SAVEPOINT": "SAVEPOINT",
    "TRANS_STMT_RELEASE": "RELEASE SAVEPOINT",
    "TRANS_STMT_ROLLBACK_TO": "ROLLBACK TO SAVEPOINT",
    "TRANS_STMT_PREPARE": "PREPARE TRANSACTION",
}
PREPARED_KINDS = {"TRANS_STMT_COMMIT_PREPARED", "TRANS_STMT_ROLLBACK_PREPARED"}

# Statements Postgres always refuses inside a transaction block, by node type.
ALWAYS_ALONE = {
    "CreatedbStmt": "CREATE DATABASE",
    "DropdbStmt": "DROP DATABASE",
    "CreateTableSpaceStmt": "CREATE TABLESPACE",
    "DropTableSpaceStmt": "DROP TABLESPACE",
    "AlterSystemStmt": "ALTER SYSTEM",
    "CreateSubscriptionStmt": "CREATE SUBSCRIPTION",
    "AlterSubscriptionStmt": "ALTER SUBSCRIPTION",
    "DropSubscriptionStmt": "DROP SUBSCRIPTION",
}
WHOLE_REINDEX = {"REINDEX_OBJECT_SCHEMA", "REINDEX_OBJECT_DATABASE", "REINDEX_OBJECT_SYSTEM"}

DROPS_DATA = {
    "OBJECT_TABLE": "table",
    "OBJECT_SCHEMA": "schema",
    "OBJECT_MATVIEW": "materialized view",
    "OBJECT_SEQUENCE": "sequence",
    "OBJECT_TYPE": "type",
    "OBJECT_DOMAIN": "domain",
    "OBJECT_EXTENSION": "extension",
    "OBJECT_FOREIGN_TABLE": "foreign table",
}
RELATION_DROPS = {
    "OBJECT_TABLE",
    "OBJECT_INDEX",
    "OBJECT_VIEW",
    "OBJECT_MATVIEW",
    "OBJECT_SEQUENCE",
    "OBJECT_FOREIGN_TABLE",
}


# Node types any rule below looks at; everything else (INSERT, COMMENT, GRANT...) is plainly transactional.
EXAMINED_KINDS = set(ALWAYS_ALONE) | {
    "IndexStmt",
    "DropStmt",
    "ReindexStmt",
    "VacuumStmt",
    "ClusterStmt",
    "DiscardStmt",
    "TransactionStmt",
    "AlterTableStmt",
    "DropOwnedStmt",
    "TruncateStmt",
    "DeleteStmt",
    "UpdateStmt",
    "CreateStmt",
    "CreateTableAsStmt",
    "ViewStmt",
    "CreateSeqStmt",
}


def classify(kind: str, tree: dict) -> Facts:
    """Facts of one statement from its parse node (`kind`, e.g. "IndexStmt") and fields (libpg_query JSON)."""
    if kind not in EXAMINED_KINDS:
        return Facts(kind, None, None, None, (), None)
    return Facts(
        kind=kind,
        non_transactional=_non_transactional(kind, tree),
        refused=_refused(kind, tree),
        destructive=_destructive(kind, tree),
        creates=_created(kind, tree),
        concurrent_index=_concurrent_index(kind, tree),
    )


def relations_of(kind: str, tree: dict) -> tuple[RelationName, ...]:
    """Existing relations the statement reads, changes or drops (not the ones it creates).

    A walk over the whole tree: done only when asked (pre-flight, locks, rehearsal), not for lint.
    """
    created = _created(kind, tree)
    return tuple(r for r in _relations(kind, tree) if r not in created)


def _refused(kind: str, tree: dict) -> str | None:
    if kind == "TransactionStmt" and tree.get("kind") in REFUSED_TRANSACTION_KINDS:
        written = REFUSED_TRANSACTION_KINDS[tree["kind"]]
        return f"{written} is refused: the applier owns transactions (it groups statements itself)"
    return None


def _non_transactional(kind: str, tree: dict) -> str | None:
    why = "cannot run inside a transaction block"
    if kind in ALWAYS_ALONE:
        return f"{ALWAYS_ALONE[kind]} {why}"
    if kind == "IndexStmt" and tree.get("concurrent"):
        return f"CREATE INDEX CONCURRENTLY {why}"
    if kind == "DropStmt" and tree.get("concurrent"):
        return f"DROP INDEX CONCURRENTLY {why}"
    if kind == "ReindexStmt":
        if _option_on(tree.get("params", ()), "concurrently"):
            return f"REINDEX CONCURRENTLY {why}"
        if tree.get("kind") in WHOLE_REINDEX:
            return f"REINDEX of a whole schema, database or system {why}"
    if kind == "VacuumStmt" and tree.get("is_vacuumcmd"):
        return f"VACUUM {why}"
    if kind == "ClusterStmt" and "relation" not in tree:
        return f"CLUSTER without a table {why}"
    if kind == "DiscardStmt" and tree.get("target") == "DISCARD_ALL":
        return f"DISCARD ALL {why}"
    if kind == "TransactionStmt" and tree.get("kind") in PREPARED_KINDS:
        return f"COMMIT/ROLLBACK PREPARED {why}"
    if kind == "AlterTableStmt":
        for cmd in _commands(tree):
            if cmd.get("subtype") == "AT_DetachPartition" and cmd.get("def", {}).get("PartitionCmd", {}).get(
                "concurrent"
            ):
                return f"DETACH PARTITION CONCURRENTLY {why}"
    return None


def _option_on(params, name: str) -> bool:
    for item in params:
        option = item.get("DefElem", {})
        if option.get("defname") == name:
            arg = option.get("arg")
            if arg is None:
                return True
            value = next(iter(arg.values()), {})
            text = str(next(iter(value.values()), "")) if isinstance(value, dict) else str(value)
            return text.lower() not in ("false", "off", "0", "")
    return False


def _commands(tree: dict) -> list[dict]:
    return [item.get("AlterTableCmd", {}) for item in tree.get("cmds", ())]


def _destructive(kind: str, tree: dict) -> str | None:
    cascade = tree.get("behavior") == "DROP_CASCADE"
    if kind == "DropStmt":
        names = ", ".join(_object_display(obj) for obj in tree.get("objects", ()))
        remove = tree.get("removeType")
        if remove in DROPS_DATA:
            what = f"drops {DROPS_DATA[remove]} {names} and the data in it"
            return what + (", and CASCADE drops what depends on it" if cascade else "")
        if cascade:
            return f"DROP ... CASCADE also drops everything that depends on {names}"
    if kind == "DropdbStmt":
        return f"drops database {tree.get('dbname', '?')}"
    if kind == "DropOwnedStmt":
        return "drops every object owned by the roles named"
    if kind == "TruncateStmt":
        emptied = "empties " + ", ".join(
            _range_display(item.get("RangeVar")) for item in tree.get("relations", ())
        )
        return emptied + (", and CASCADE empties every table referencing them" if cascade else "")
    if kind == "DeleteStmt" and "whereClause" not in tree:
        return f"deletes every row of {_range_display(tree.get('relation'))} (no WHERE)"
    if kind == "UpdateStmt" and "whereClause" not in tree:
        return f"updates every row of {_range_display(tree.get('relation'))} (no WHERE)"
    if kind == "AlterTableStmt":
        table = _range_display(tree.get("relation"))
        for cmd in _commands(tree):
            if cmd.get("subtype") == "AT_DropColumn":
                return f"drops column {cmd.get('name')} of {table} and its data"
            if cmd.get("subtype") == "AT_AlterColumnType":
                return f"changes the type of {table}.{cmd.get('name')}: may rewrite the table or narrow its values"
    return None


def _strings(items) -> list[str]:
    return [item.get("String", {}).get("sval", "?") for item in items]


def _object_display(obj: dict) -> str:
    if "List" in obj:
        return ".".join(_strings(obj["List"].get("items", ())))
    if "TypeName" in obj:
        return ".".join(_strings(obj["TypeName"].get("names", ())))
    if "String" in obj:
        return obj["String"].get("sval", "?")
    return "?"


def _range_display(rv: dict | None) -> str:
    return _relation_name(rv).display if rv else "?"


def _relation_name(rv: dict) -> RelationName:
    return RelationName(rv.get("schemaname") or None, rv.get("relname", ""))


def _concurrent_index(kind: str, tree: dict) -> ConcurrentIndex | None:
    if kind == "IndexStmt" and tree.get("concurrent"):
        return ConcurrentIndex(tree.get("idxname") or None, _relation_name(tree["relation"]))
    return None


def _created(kind: str, tree: dict) -> tuple[RelationName, ...]:
    if kind == "CreateStmt":
        return (_relation_name(tree["relation"]),)
    if kind == "CreateTableAsStmt":
        return (_relation_name(tree["into"]["rel"]),)
    if kind == "ViewStmt":
        return (_relation_name(tree["view"]),)
    if kind == "CreateSeqStmt":
        return (_relation_name(tree["sequence"]),)
    if kind == "IndexStmt" and tree.get("idxname"):
        return (RelationName(tree["relation"].get("schemaname") or None, tree["idxname"]),)
    return ()


def _relations(kind: str, tree: dict) -> list[RelationName]:
    """Relations named anywhere in the statement (CTE names left out), first mention first."""
    found: dict[RelationName, None] = {}
    cte_names: set[str] = set()
    _walk(tree, found, cte_names)
    if kind == "DropStmt" and tree.get("removeType") in RELATION_DROPS:
        for obj in tree.get("objects", ()):
            parts = _strings(obj.get("List", {}).get("items", ()))
            found[RelationName(parts[-2] if len(parts) > 1 else None, parts[-1])] = None
    return [r for r in found if not (r.schema is None and r.name in cte_names)]


def _walk(value, found: dict, cte_names: set) -> None:
    # In libpg_query's JSON only RangeVar has "relname" (bare in typed fields, wrapped in lists).
    if isinstance(value, dict):
        if "relname" in value:
            found[_relation_name(value)] = None
            return
        if "ctename" in value:
            cte_names.add(value["ctename"])
        for child in value.values():
            if isinstance(child, dict | list):
                _walk(child, found, cte_names)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                _walk(item, found, cte_names)
