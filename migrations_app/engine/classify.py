"""What each statement is, read from its AST: transactional or not, refused, destructive, relations.

Postgres refuses some statements inside a transaction block; the applier runs
those on their own. User-written transaction control is refused because the
applier owns transactions. Destructive statements lose data or break clients
and need the author's acknowledgement.
"""

from dataclasses import dataclass

from pglast import ast
from pglast.enums import (
    AlterTableType,
    DiscardMode,
    DropBehavior,
    ObjectType,
    ReindexObjectType,
    TransactionStmtKind,
)


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
    relations: tuple[RelationName, ...]  # existing relations it reads, changes or drops
    creates: tuple[RelationName, ...]  # relations it creates
    concurrent_index: ConcurrentIndex | None


REFUSED_TRANSACTION_KINDS = {
    TransactionStmtKind.TRANS_STMT_BEGIN: "BEGIN",
    TransactionStmtKind.TRANS_STMT_START: "START TRANSACTION",
    TransactionStmtKind.TRANS_STMT_COMMIT: "COMMIT",
    TransactionStmtKind.TRANS_STMT_ROLLBACK: "ROLLBACK",
    TransactionStmtKind.TRANS_STMT_SAVEPOINT: "SAVEPOINT",
    TransactionStmtKind.TRANS_STMT_RELEASE: "RELEASE SAVEPOINT",
    TransactionStmtKind.TRANS_STMT_ROLLBACK_TO: "ROLLBACK TO SAVEPOINT",
    TransactionStmtKind.TRANS_STMT_PREPARE: "PREPARE TRANSACTION",
}

# Statements Postgres always refuses inside a transaction block, by node type.
ALWAYS_ALONE = {
    ast.CreatedbStmt: "CREATE DATABASE",
    ast.DropdbStmt: "DROP DATABASE",
    ast.CreateTableSpaceStmt: "CREATE TABLESPACE",
    ast.DropTableSpaceStmt: "DROP TABLESPACE",
    ast.AlterSystemStmt: "ALTER SYSTEM",
    ast.CreateSubscriptionStmt: "CREATE SUBSCRIPTION",
    ast.AlterSubscriptionStmt: "ALTER SUBSCRIPTION",
    ast.DropSubscriptionStmt: "DROP SUBSCRIPTION",
}

DROPS_DATA = {
    ObjectType.OBJECT_TABLE: "table",
    ObjectType.OBJECT_SCHEMA: "schema",
    ObjectType.OBJECT_MATVIEW: "materialized view",
    ObjectType.OBJECT_SEQUENCE: "sequence",
    ObjectType.OBJECT_TYPE: "type",
    ObjectType.OBJECT_DOMAIN: "domain",
    ObjectType.OBJECT_EXTENSION: "extension",
    ObjectType.OBJECT_FOREIGN_TABLE: "foreign table",
}

RELATION_DROPS = {
    ObjectType.OBJECT_TABLE,
    ObjectType.OBJECT_INDEX,
    ObjectType.OBJECT_VIEW,
    ObjectType.OBJECT_MATVIEW,
    ObjectType.OBJECT_SEQUENCE,
    ObjectType.OBJECT_FOREIGN_TABLE,
}


def classify(node: ast.Node) -> Facts:
    created = _created(node)
    return Facts(
        kind=type(node).__name__,
        non_transactional=_non_transactional(node),
        refused=_refused(node),
        destructive=_destructive(node),
        relations=tuple(r for r in _relations(node) if r not in created),
        creates=created,
        concurrent_index=_concurrent_index(node),
    )


def _refused(node: ast.Node) -> str | None:
    if isinstance(node, ast.TransactionStmt) and node.kind in REFUSED_TRANSACTION_KINDS:
        written = REFUSED_TRANSACTION_KINDS[node.kind]
        return f"{written} is refused: the applier owns transactions (it groups statements itself)"
    return None


def _non_transactional(node: ast.Node) -> str | None:
    why = "cannot run inside a transaction block"
    if type(node) in ALWAYS_ALONE:
        return f"{ALWAYS_ALONE[type(node)]} {why}"
    if isinstance(node, ast.IndexStmt) and node.concurrent:
        return f"CREATE INDEX CONCURRENTLY {why}"
    if isinstance(node, ast.DropStmt) and node.concurrent:
        return f"DROP INDEX CONCURRENTLY {why}"
    if isinstance(node, ast.ReindexStmt):
        if _option_on(node.params, "concurrently"):
            return f"REINDEX CONCURRENTLY {why}"
        if node.kind in (
            ReindexObjectType.REINDEX_OBJECT_SCHEMA,
            ReindexObjectType.REINDEX_OBJECT_DATABASE,
            ReindexObjectType.REINDEX_OBJECT_SYSTEM,
        ):
            return f"REINDEX of a whole schema, database or system {why}"
    if isinstance(node, ast.VacuumStmt) and node.is_vacuumcmd:
        return f"VACUUM {why}"
    if isinstance(node, ast.ClusterStmt) and node.relation is None:
        return f"CLUSTER without a table {why}"
    if isinstance(node, ast.DiscardStmt) and node.target == DiscardMode.DISCARD_ALL:
        return f"DISCARD ALL {why}"
    if isinstance(node, ast.TransactionStmt) and node.kind in (
        TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED,
        TransactionStmtKind.TRANS_STMT_ROLLBACK_PREPARED,
    ):
        return f"COMMIT/ROLLBACK PREPARED {why}"
    if isinstance(node, ast.AlterTableStmt):
        for cmd in node.cmds or ():
            if cmd.subtype == AlterTableType.AT_DetachPartition and getattr(cmd.def_, "concurrent", False):
                return f"DETACH PARTITION CONCURRENTLY {why}"
    return None


def _option_on(params, name: str) -> bool:
    for option in params or ():
        if isinstance(option, ast.DefElem) and option.defname == name:
            value = getattr(option.arg, "sval", None) or getattr(option.arg, "ival", None)
            return option.arg is None or str(value).lower() not in ("false", "off", "0")
    return False


def _destructive(node: ast.Node) -> str | None:
    if isinstance(node, ast.DropStmt):
        names = ", ".join(_object_display(obj) for obj in node.objects or ())
        cascade = node.behavior == DropBehavior.DROP_CASCADE
        if node.removeType in DROPS_DATA:
            what = f"drops {DROPS_DATA[node.removeType]} {names} and the data in it"
            return what + (", and CASCADE drops what depends on it" if cascade else "")
        if cascade:
            return f"DROP ... CASCADE also drops everything that depends on {names}"
    if isinstance(node, ast.DropdbStmt):
        return f"drops database {node.dbname}"
    if isinstance(node, ast.DropOwnedStmt):
        return "drops every object owned by the roles named"
    if isinstance(node, ast.TruncateStmt):
        emptied = "empties " + ", ".join(_range_display(r) for r in node.relations or ())
        cascade = node.behavior == DropBehavior.DROP_CASCADE
        return emptied + (", and CASCADE empties every table referencing them" if cascade else "")
    if isinstance(node, ast.DeleteStmt) and node.whereClause is None:
        return f"deletes every row of {_range_display(node.relation)} (no WHERE)"
    if isinstance(node, ast.UpdateStmt) and node.whereClause is None:
        return f"updates every row of {_range_display(node.relation)} (no WHERE)"
    if isinstance(node, ast.AlterTableStmt):
        table = _range_display(node.relation)
        for cmd in node.cmds or ():
            if cmd.subtype == AlterTableType.AT_DropColumn:
                return f"drops column {cmd.name} of {table} and its data"
            if cmd.subtype == AlterTableType.AT_AlterColumnType:
                return f"changes the type of {table}.{cmd.name}: may rewrite the table or narrow its values"
    return None


def _object_display(obj) -> str:
    if isinstance(obj, tuple | list):
        return ".".join(getattr(part, "sval", "?") for part in obj)
    if isinstance(obj, ast.TypeName):
        return ".".join(getattr(part, "sval", "?") for part in obj.names or ())
    return getattr(obj, "sval", "?")


def _range_display(rv) -> str:
    return _relation_name(rv).display if isinstance(rv, ast.RangeVar) else "?"


def _relation_name(rv: ast.RangeVar) -> RelationName:
    return RelationName(rv.schemaname or None, rv.relname)


def _concurrent_index(node: ast.Node) -> ConcurrentIndex | None:
    if isinstance(node, ast.IndexStmt) and node.concurrent:
        return ConcurrentIndex(node.idxname or None, _relation_name(node.relation))
    return None


def _created(node: ast.Node) -> tuple[RelationName, ...]:
    if isinstance(node, ast.CreateStmt):
        return (_relation_name(node.relation),)
    if isinstance(node, ast.CreateTableAsStmt):
        return (_relation_name(node.into.rel),)
    if isinstance(node, ast.ViewStmt):
        return (_relation_name(node.view),)
    if isinstance(node, ast.CreateSeqStmt):
        return (_relation_name(node.sequence),)
    if isinstance(node, ast.IndexStmt) and node.idxname:
        return (RelationName(node.relation.schemaname or None, node.idxname),)
    return ()


def _relations(node: ast.Node) -> list[RelationName]:
    """Relations named anywhere in the statement (CTE names left out), first mention first."""
    found: dict[RelationName, None] = {}
    cte_names: set[str] = set()
    _walk(node, found, cte_names)
    if isinstance(node, ast.DropStmt) and node.removeType in RELATION_DROPS:
        for obj in node.objects or ():
            parts = [getattr(part, "sval", "") for part in obj]
            found[RelationName(parts[-2] if len(parts) > 1 else None, parts[-1])] = None
    return [r for r in found if not (r.schema is None and r.name in cte_names)]


def _walk(value, found: dict, cte_names: set) -> None:
    # A plain walk over the node's slots: faster than pglast's Visitor on long scripts.
    if isinstance(value, tuple | list):
        for item in value:
            _walk(item, found, cte_names)
        return
    if not isinstance(value, ast.Node):
        return
    if isinstance(value, ast.RangeVar):
        found[_relation_name(value)] = None
        return
    if isinstance(value, ast.CommonTableExpr):
        cte_names.add(value.ctename)
    for slot in value.__slots__:
        child = getattr(value, slot, None)
        if isinstance(child, ast.Node | tuple | list):
            _walk(child, found, cte_names)
