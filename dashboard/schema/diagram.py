"""Layout of a relation's foreign-key neighbourhood as an SVG drawn by the template.

Referenced relations (outgoing keys) stand on the left, referencing relations
(incoming keys) on the right, the relation itself in the middle. Only positions
are computed here; names are escaped by the template like any other text.
"""

from dataclasses import dataclass

from dashboard.introspection.model import Relation
from dashboard.schema.converters import table_url

BOX_W, BOX_H, GAP, COL_X = 220, 34, 12, (10, 300, 590)
MAX_PER_SIDE = 15


@dataclass
class Box:
    x: int
    y: int
    schema: str
    name: str
    href: str
    label: str
    center: bool = False


@dataclass
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int
    title: str


@dataclass
class Diagram:
    width: int
    height: int
    boxes: list[Box]
    edges: list[Edge]
    hidden: int


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fk_diagram(slug: str, relation: Relation, branch: str = "") -> Diagram:
    outgoing: dict[tuple[str, str], list[str]] = {}
    for fk in relation.foreign_keys:
        outgoing.setdefault((fk.ref_schema, fk.ref_table), []).append(fk.name)
    incoming: dict[tuple[str, str], list[str]] = {}
    for ref in relation.incoming:
        incoming.setdefault((ref.schema, ref.table), []).append(ref.name)
    left, right = list(outgoing.items()), list(incoming.items())
    hidden = max(0, len(left) - MAX_PER_SIDE) + max(0, len(right) - MAX_PER_SIDE)
    left, right = left[:MAX_PER_SIDE], right[:MAX_PER_SIDE]
    rows = max(len(left), len(right), 1)
    height = rows * (BOX_H + GAP) + GAP
    center_y = (height - BOX_H) // 2
    boxes = [Box(COL_X[1], center_y, relation.schema, relation.name,
                 table_url(slug, relation.schema, relation.name, branch), _short(relation.name), center=True)]  # fmt: skip
    edges = []
    for column, items in ((0, left), (2, right)):
        for i, ((schema, name), fk_names) in enumerate(items):
            y = GAP + i * (BOX_H + GAP)
            label = name if schema == relation.schema else f"{schema}.{name}"
            boxes.append(
                Box(COL_X[column], y, schema, name, table_url(slug, schema, name, branch), _short(label))
            )
            if column == 0:  # this relation references the left box
                edges.append(Edge(COL_X[1], center_y + BOX_H // 2, COL_X[0] + BOX_W, y + BOX_H // 2,
                                  ", ".join(fk_names)))  # fmt: skip
            else:
                edges.append(Edge(COL_X[2], y + BOX_H // 2, COL_X[1] + BOX_W, center_y + BOX_H // 2,
                                  ", ".join(fk_names)))  # fmt: skip
    return Diagram(width=COL_X[2] + BOX_W + 10, height=height, boxes=boxes, edges=edges, hidden=hidden)
