"""What each statement is, read from its parse tree: transactional or not, refused, destructive, relations.

Postgres refuses some statements inside a transaction block; the applier runs
those on their own. User-written transaction control is refused because the
applier owns transactions. Destructive statements lose data or break clients
and need the author's acknowledgement.
"""

import bisect
import re
from dataclasses import dataclass

from .fast import frozen_instance


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


WHY_ALONE = "cannot run inside a transaction block"

# Every rule below needs one of these keywords in the statement (keywords cannot be quoted or escaped),
# so a statement without any is plainly transactional, allowed and harmless without being parsed.
KEYWORDS = (
    "abort begin cluster commit concurrently database delete discard drop end prepare prepared reindex"
    " release rollback savepoint start subscription system tablespace truncate type update vacuum"
).split()
MAY_MATTER = re.compile(r"\b(?:" + "|".join(KEYWORDS) + r")\b")


def may_matter(text: str) -> bool:
    return MAY_MATTER.search(text.lower()) is not None  # lower() + plain regex: 5x faster than IGNORECASE


def statements_that_may_matter(sql: str, starts: list[int]) -> set[int]:
    """Indexes of the statements (beginning at offsets `starts`) that may_matter, from one pass per keyword
    over the whole script with str.find (ten times faster than the regex over each statement).

    A keyword between two statements (a comment after the semicolon) marks the statement before it,
    which only means that one is parsed too; no keyword inside a statement is missed.
    """
    lowered = sql.lower()
    if len(lowered) != len(sql):  # a few characters lower-case to two; offsets would shift
        ends = starts[1:] + [len(sql)]
        return {
            i for i, (start, end) in enumerate(zip(starts, ends, strict=True)) if may_matter(sql[start:end])
        }
    found = set()
    for keyword in KEYWORDS:
        position = lowered.find(keyword)
        while position != -1:
            after = position + len(keyword)
            if not _is_word_char(lowered, position - 1) and not _is_word_char(lowered, after):
                found.add(bisect.bisect_right(starts, position) - 1)
            position = lowered.find(keyword, after)
    found.discard(-1)
    return found


def _is_word_char(text: str, position: int) -> bool:
    """What the regex's \\b sees as a word character (\\w: alphanumeric or underscore); False off the ends."""
    if position < 0 or position >= len(text):
        return False
    char = text[position]
    return char.isalnum() or char == "_"


def classify(kind: str, tree: dict) -> Facts:
    """Facts of one statement from its parse node (`kind`, e.g. "IndexStmt") and fields (libpg_query JSON).

    One examiner per node type; any other statement (INSERT, COMMENT, GRANT...) is plainly transactional.
    """
    examine = EXAMINERS.get(kind)
    return examine(kind, tree) if examine else Facts(kind, None, None, None, (), None)


def relations_of(kind: str, tree: dict) -> tuple[RelationName, ...]:
    """Existing relations the statement reads, changes or drops (not the ones it creates).

    A walk over the whole tree: done only when asked (pre-flight, locks, rehearsal), not for lint.
    """
    created = classify(kind, tree).creates
    return tuple(r for r in _relations(kind, tree) if r not in created)


def _facts(kind, *, alone=None, refused=None, destructive=None, creates=(), concurrent_index=None) -> Facts:
    return frozen_instance(  # Facts(...), for every statement lint looks into
        Facts, kind=kind, non_transactional=alone and f"{alone} {WHY_ALONE}", refused=refused,
        destructive=destructive, creates=creates, concurrent_index=concurrent_index,
    )  # fmt: skip


def _always_alone(kind: str, tree: dict) -> Facts:
    destructive = f"drops database {tree.get('dbname', '?')}" if kind == "DropdbStmt" else None
    return _facts(kind, alone=ALWAYS_ALONE[kind], destructive=destructive)


def _creates_relation(field: str):
    def examine(kind: str, tree: dict) -> Facts:
        target = tree[field]["rel"] if field == "into" else tree[field]
        return _facts(kind, creates=(_relation_name(target),))

    return examine


def _index(kind: str, tree: dict) -> Facts:
    table = _relation_name(tree["relation"])
    name = tree.get("idxname") or None
    creates = (RelationName(table.schema, name),) if name else ()
    if not tree.get("concurrent"):
        return _facts(kind, creates=creates)
    return _facts(
        kind,
        alone="CREATE INDEX CONCURRENTLY",
        creates=creates,
        concurrent_index=ConcurrentIndex(name, table),
    )


def _drop(kind: str, tree: dict) -> Facts:
    names = ", ".join(_object_display(obj) for obj in tree.get("objects", ()))
    remove, cascade = tree.get("removeType"), tree.get("behavior") == "DROP_CASCADE"
    destructive = None
    if remove in DROPS_DATA:
        destructive = f"drops {DROPS_DATA[remove]} {names} and the data in it"
        destructive += ", and CASCADE drops what depends on it" if cascade else ""
    elif cascade:
        destructive = f"DROP ... CASCADE also drops everything that depends on {names}"
    return _facts(
        kind, alone="DROP INDEX CONCURRENTLY" if tree.get("concurrent") else None, destructive=destructive
    )


def _reindex(kind: str, tree: dict) -> Facts:
    if _option_on(tree.get("params", ()), "concurrently"):
        return _facts(kind, alone="REINDEX CONCURRENTLY")
    if tree.get("kind") in WHOLE_REINDEX:
        return _facts(kind, alone="REINDEX of a whole schema, database or system")
    return _facts(kind)


def _vacuum(kind: str, tree: dict) -> Facts:
    return _facts(
        kind, alone="VACUUM" if tree.get("is_vacuumcmd") else None
    )  # plain ANALYZE may run anywhere


def _cluster(kind: str, tree: dict) -> Facts:
    return _facts(kind, alone=None if "relation" in tree else "CLUSTER without a table")


def _discard(kind: str, tree: dict) -> Facts:
    return _facts(kind, alone="DISCARD ALL" if tree.get("target") == "DISCARD_ALL" else None)


def _transaction(kind: str, tree: dict) -> Facts:
    written = REFUSED_TRANSACTION_KINDS.get(tree.get("kind"))
    if written:
        return _facts(
            kind, refused=f"{written} is refused: the applier owns transactions (it groups statements itself)"
        )
    return _facts(kind, alone="COMMIT/ROLLBACK PREPARED" if tree.get("kind") in PREPARED_KINDS else None)


def _alter_table(kind: str, tree: dict) -> Facts:
    table = _range_display(tree.get("relation"))
    alone = destructive = None
    for item in tree.get("cmds", ()):
        cmd = item.get("AlterTableCmd", {})
        subtype = cmd.get("subtype")
        if subtype == "AT_DetachPartition" and cmd.get("def", {}).get("PartitionCmd", {}).get("concurrent"):
            alone = "DETACH PARTITION CONCURRENTLY"
        elif subtype == "AT_DropColumn" and destructive is None:
            destructive = f"drops column {cmd.get('name')} of {table} and its data"
        elif subtype == "AT_AlterColumnType" and destructive is None:
            destructive = (
                f"changes the type of {table}.{cmd.get('name')}: may rewrite the table or narrow its values"
            )
    return _facts(kind, alone=alone, destructive=destructive)


def _truncate(kind: str, tree: dict) -> Facts:
    emptied = "empties " + ", ".join(
        _range_display(item.get("RangeVar")) for item in tree.get("relations", ())
    )
    if tree.get("behavior") == "DROP_CASCADE":
        emptied += ", and CASCADE empties every table referencing them"
    return _facts(kind, destructive=emptied)


def _every_row(verb: str):
    def examine(kind: str, tree: dict) -> Facts:
        if "whereClause" in tree:
            return _facts(kind)
        return _facts(
            kind, destructive=f"{verb} every row of {_range_display(tree.get('relation'))} (no WHERE)"
        )

    return examine


def _drop_owned(kind: str, tree: dict) -> Facts:
    return _facts(kind, destructive="drops every object owned by the roles named")


EXAMINERS = {
    **dict.fromkeys(ALWAYS_ALONE, _always_alone),
    "CreateStmt": _creates_relation("relation"),
    "CreateTableAsStmt": _creates_relation("into"),
    "ViewStmt": _creates_relation("view"),
    "CreateSeqStmt": _creates_relation("sequence"),
    "IndexStmt": _index,
    "DropStmt": _drop,
    "ReindexStmt": _reindex,
    "VacuumStmt": _vacuum,
    "ClusterStmt": _cluster,
    "DiscardStmt": _discard,
    "TransactionStmt": _transaction,
    "AlterTableStmt": _alter_table,
    "TruncateStmt": _truncate,
    "DeleteStmt": _every_row("deletes"),
    "UpdateStmt": _every_row("updates"),
    "DropOwnedStmt": _drop_owned,
}


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
    # RelationName(...), for every table a classified statement names
    return frozen_instance(RelationName, schema=rv.get("schemaname") or None, name=rv.get("relname", ""))


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
