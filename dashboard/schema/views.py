"""Schema browser, advisor and diff pages.

Pages render from stored snapshots (dashboard.schema.snapshots), never from a live
target: the overview filters, sorts and pages the SchemaRelation rows in SQL, a
table page reads one row. Capturing (Refresh, branch comparison) runs in Celery.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, F, Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from dashboard.advisor.rules import RULES, SEVERITIES
from dashboard.common import audit
from dashboard.common.access import get_project_for_user
from dashboard.common.htmx import render_page, task_partial, wants_partial
from dashboard.introspection.model import FK_ACTIONS, RELATION_KINDS, Catalog, relation_from_dict
from dashboard.models import Outcome, Role, SchemaRelation, SchemaSnapshot, TaskRun
from dashboard.neon.state import branches_for, resolve_branch
from dashboard.schema.converters import table_url
from dashboard.schema.diagram import fk_diagram
from dashboard.schema.snapshots import (
    branch_key,
    diff_snapshots,
    latest_relation,
    latest_snapshot,
    snapshot_findings,
)
from dashboard.schema.tasks import (
    BRANCH_COMPARE_KIND,
    compare_branch_schemas,
    latest_capture,
    request_snapshot,
)
from dashboard.taskruns import lifecycle

SORTS = {
    "name": [F("schema").asc(), F("name").asc()],
    "-name": [F("schema").desc(), F("name").desc()],
    "rows": [F("row_estimate").asc(nulls_first=True), F("schema").asc(), F("name").asc()],
    "-rows": [F("row_estimate").desc(nulls_last=True), F("schema").asc(), F("name").asc()],
    "size": [F("total_bytes").asc(), F("schema").asc(), F("name").asc()],
    "-size": [F("total_bytes").desc(), F("schema").asc(), F("name").asc()],
    "kind": [F("kind").asc(), F("schema").asc(), F("name").asc()],
    "columns": [F("column_count").asc(), F("schema").asc(), F("name").asc()],
    "-columns": [F("column_count").desc(), F("schema").asc(), F("name").asc()],
}
LIST_FIELDS = ("schema", "name", "kind", "is_partition", "row_estimate", "total_bytes", "column_count",
               "index_count", "constraint_count", "fk_count", "incoming_fk_count")  # fmt: skip
FINDINGS_PER_PAGE = 50


def _latest_run(project, kind: str) -> TaskRun | None:
    return TaskRun.objects.filter(project=project, kind=kind).order_by("-created_at").first()


@dataclass(frozen=True)
class BranchChoice:
    """The Neon branch a schema page shows: ?branch=<name or id>; the default branch is id "" and name ""."""

    id: str = ""
    name: str = ""

    @property
    def query(self) -> str:
        """ "branch=<name>&" to start a query string with, or "" for the default branch."""
        return urlencode({"branch": self.name}) + "&" if self.name else ""

    @property
    def suffix(self) -> str:
        return "?" + urlencode({"branch": self.name}) if self.name else ""


def _branch_choice(project, wanted: str) -> BranchChoice:
    """Unknown names fall back to the default branch (the picker says so); so does the default itself."""
    record = resolve_branch(project, wanted.strip()) if wanted.strip() else None
    if record is None or record.is_default:
        return BranchChoice()
    branch_id, name = branch_key(record)
    return BranchChoice(branch_id, name)


def _snapshot_context(request, project, membership, branch: BranchChoice) -> dict:
    return {
        "project": project,
        "membership": membership,
        "branch": branch,
        "snapshot": latest_snapshot(project, branch.id),
        "run": latest_capture(project, branch.id),
        "can_refresh": membership.has_role(Role.ENGINEER),
    }


# --- overview -----------------------------------------------------------------------


def _relation_filters(request, snapshot) -> tuple[dict, object]:
    q = request.GET.get("q", "").strip()[:200]
    schema = request.GET.get("schema", "")[:200]
    kind = request.GET.get("kind", "")
    sort = request.GET.get("sort", "name")
    sort = sort if sort in SORTS else "name"
    rows = SchemaRelation.objects.filter(snapshot=snapshot).only(*LIST_FIELDS)
    if q:
        rows = rows.filter(name__icontains=q)
    if schema:
        rows = rows.filter(schema=schema)
    if kind in RELATION_KINDS:
        rows = rows.filter(kind=kind)
    else:
        kind = ""
    filters = {"q": q, "schema": schema, "kind": kind, "sort": sort, "branch": ""}
    return filters, rows.order_by(*SORTS[sort])


def _query_string(filters: dict, **changes) -> str:
    values = {**filters, **changes}
    return urlencode({k: v for k, v in values.items() if v})


HEADERS = (("Relation", "name", False), ("Kind", "kind", False), ("Est. rows", "-rows", True),
           ("Size", "-size", True), ("Columns", "-columns", True))  # fmt: skip


def _sort_headers(filters: dict) -> list[dict]:
    """Column headers whose links sort by that column, toggling direction when it is already the sort."""
    headers = []
    for label, key, numeric in HEADERS:
        base = key.lstrip("-")
        active = filters["sort"] in (base, "-" + base)
        target = key
        if active and key in SORTS and ("-" + base) in SORTS:
            target = base if filters["sort"].startswith("-") else "-" + base
        marker = (" ▼" if filters["sort"].startswith("-") else " ▲") if active else ""
        headers.append(
            {"label": label + marker, "href": "?" + _query_string(filters, sort=target), "numeric": numeric}
        )
    return headers


@login_required
@require_GET
def schema_overview(request, slug):
    project, membership = get_project_for_user(request, slug)
    branch = _branch_choice(project, request.GET.get("branch", ""))
    context = _snapshot_context(request, project, membership, branch)
    snapshot = context["snapshot"]
    if snapshot is not None:
        filters, rows = _relation_filters(request, snapshot)
        filters["branch"] = branch.name
        page = Paginator(rows, settings.SCHEMA_PAGE_SIZE).get_page(request.GET.get("page"))
        schemas = (
            SchemaRelation.objects.filter(snapshot=snapshot).values("schema")
            .annotate(relations=Count("id"), bytes=Sum("total_bytes")).order_by("schema")
        )  # fmt: skip
        for row in page.object_list:
            row.url = table_url(project.slug, row.schema, row.name, branch.name)
            row.kind_label = RELATION_KINDS.get(row.kind, row.kind)
        context.update(
            page=page,
            filters=filters,
            schemas=schemas,
            kinds=RELATION_KINDS.items(),
            query_prefix=_query_string(filters),
            headers=_sort_headers(filters),
        )
    # The search box swaps only the relations list (render_page gives a history restore the whole page).
    return render_page(request, "schema/overview.html", "schema/_relations.html", context)


# --- snapshot refresh -----------------------------------------------------------------


def _refresh_status(request, project, membership, branch: BranchChoice):
    context = _snapshot_context(request, project, membership, branch)
    return task_partial(request, "schema/_refresh_status.html", context, context["run"])


@login_required
@require_http_methods(["GET", "POST"])
def schema_refresh(request, slug):
    """GET: the refresh status partial (polled by htmx). POST: capture a new snapshot (engineer)."""
    if request.method == "GET":
        project, membership = get_project_for_user(request, slug)
        return _refresh_status(
            request, project, membership, _branch_choice(project, request.GET.get("branch", ""))
        )
    project, membership = get_project_for_user(request, slug, Role.ENGINEER, action="schema.refresh")
    branch = _branch_choice(project, request.POST.get("branch", ""))
    with transaction.atomic():
        run = request_snapshot(project, user=request.user, branch_id=branch.id)
        audit.record(request.user, "schema.refresh", project=project, obj=run, branch=branch.name)
    if wants_partial(request):
        return _refresh_status(request, project, membership, branch)
    messages.info(request, "Taking a schema snapshot; the page updates when it is ready.")
    return redirect(reverse("schema_overview", args=[project.slug]) + branch.suffix)


# --- one relation ---------------------------------------------------------------------


@login_required
@require_GET
def schema_table(request, slug, schema, table):
    project, membership = get_project_for_user(request, slug)
    branch = _branch_choice(project, request.GET.get("branch", ""))
    found = latest_relation(project, schema, table, branch.id)
    if found is None:
        raise Http404("No such relation in the latest snapshot")
    detail, snapshot = found
    relation = relation_from_dict(detail)
    partitions = []
    if relation.kind == "p":
        partitions = (
            SchemaRelation.objects.filter(snapshot=snapshot, parent_schema=schema, parent_name=table)
            .order_by("name")
            .values_list("schema", "name", "total_bytes", "row_estimate")
        )
    context = {
        "project": project,
        "membership": membership,
        "snapshot": snapshot,
        "relation": relation,
        "branch": branch,
        "findings": detail.get("findings", []),
        **_relation_links(slug, relation, partitions, branch.name),
    }
    return render(request, "schema/table.html", context)


def _relation_links(slug: str, relation, partitions, branch: str) -> dict:
    """Links of a table page: its keys both ways, its partitions or parent, and the FK diagram."""
    return {
        "outgoing": [
            {
                "fk": fk,
                "url": table_url(slug, fk.ref_schema, fk.ref_table, branch),
                "on_update": FK_ACTIONS.get(fk.on_update, fk.on_update),
                "on_delete": FK_ACTIONS.get(fk.on_delete, fk.on_delete),
            }
            for fk in relation.foreign_keys
        ],
        "incoming": [
            {"ref": ref, "url": table_url(slug, ref.schema, ref.table, branch)} for ref in relation.incoming
        ],
        "partitions": [
            {"schema": s, "name": n, "bytes": b, "rows": r, "url": table_url(slug, s, n, branch)}
            for s, n, b, r in partitions
        ],
        "parent_url": table_url(slug, relation.parent_schema, relation.parent_name, branch)
        if relation.is_partition
        else "",
        "diagram": fk_diagram(slug, relation, branch),
    }


# --- other objects -----------------------------------------------------------------

OBJECTS_SHOWN = 500  # per kind; a database with more shows the first ones and says so


@login_required
@require_GET
def schema_objects(request, slug):
    """Schemas, sequences, types, functions and extensions of the latest snapshot."""
    project, membership = get_project_for_user(request, slug)
    branch = _branch_choice(project, request.GET.get("branch", ""))
    context = _snapshot_context(request, project, membership, branch)
    snapshot = context["snapshot"]
    if snapshot is not None:
        data = SchemaSnapshot.objects.filter(pk=snapshot.pk).values_list("data", flat=True).first() or {}
        catalog = Catalog.from_dict({**data, "server_version": snapshot.server_version, "relations": []})
        sequences = []
        for seq in catalog.sequences[:OBJECTS_SHOWN]:
            share = seq.used_share
            owner_url = (
                table_url(project.slug, seq.owned_by_schema, seq.owned_by_table, branch.name)
                if seq.owned_by_table
                else ""
            )
            sequences.append(
                {
                    "seq": seq,
                    "share": None if share is None else round(share * 100, 1),
                    "owner_url": owner_url,
                }
            )
        context.update(
            catalog=catalog,
            sequences=sequences,
            limit=OBJECTS_SHOWN,
            truncated=[
                kind for kind, items in (("sequences", catalog.sequences), ("functions", catalog.functions),
                                         ("enums", catalog.enums), ("domains", catalog.domains),
                                         ("composite types", catalog.composites))
                if len(items) > OBJECTS_SHOWN
            ],
        )  # fmt: skip
    return render(request, "schema/objects.html", context)


# --- advisor --------------------------------------------------------------------------


@login_required
@require_GET
def schema_advice(request, slug):
    project, membership = get_project_for_user(request, slug)
    branch = _branch_choice(project, request.GET.get("branch", ""))
    context = _snapshot_context(request, project, membership, branch)
    snapshot = context["snapshot"]
    if snapshot is not None:
        findings = snapshot_findings(snapshot)
        severity = request.GET.get("severity", "")
        rule_id = request.GET.get("rule", "")
        shown = [
            f for f in findings
            if (not severity or f["severity"] == severity) and (not rule_id or f["rule"] == rule_id)
        ]  # fmt: skip
        for f in shown:
            if f.get("table"):
                f["url"] = table_url(project.slug, f["schema"], f["table"], branch.name)
        by_rule: dict[str, int] = {}
        for f in findings:
            by_rule[f["rule"]] = by_rule.get(f["rule"], 0) + 1
        filters = {
            "branch": branch.name,
            "severity": severity if severity in SEVERITIES else "",
            "rule": rule_id,
        }
        context.update(
            page=Paginator(shown, FINDINGS_PER_PAGE).get_page(request.GET.get("page")),
            rules=[{"rule": r, "count": by_rule.get(r.id, 0)} for r in RULES],
            severity_counts={s: sum(1 for f in findings if f["severity"] == s) for s in SEVERITIES},
            filters=filters,
            query_prefix=_query_string(filters),
            can_draft=membership.has_role(Role.ENGINEER) and migration_drafts_available(),
            total=len(findings),
        )
    return render(request, "schema/advice.html", context)


def migration_drafts_available() -> bool:
    """The draft button needs the migrations workflow's /migrations/new/ page; no dead link before it exists."""
    try:
        reverse("migration_new", kwargs={"slug": "x"})
    except NoReverseMatch:
        return False
    return True


# --- diff -----------------------------------------------------------------------------


def _pick_snapshot(project, value) -> SchemaSnapshot | None:
    try:
        version = int(value)
    except (TypeError, ValueError):
        return None
    return SchemaSnapshot.objects.filter(project=project, version=version).defer("data", "findings").first()


def _branch_choices(project) -> list[tuple[str, str]]:
    return [branch_key(b) for b in branches_for(project)]


@login_required
@require_GET
def schema_diff(request, slug):
    project, membership = get_project_for_user(request, slug)
    versions = list(
        SchemaSnapshot.objects.filter(project=project).order_by("-version")
        .values("version", "taken_at", "branch_id", "branch_name")[:200]
    )  # fmt: skip
    context = {
        "project": project,
        "membership": membership,
        "versions": versions,
        "branches": _branch_choices(project),
        "can_compare_branches": membership.has_role(Role.ENGINEER),
        "compare_run": _latest_run(project, BRANCH_COMPARE_KIND),
        "error": "",
    }
    old_v, new_v = request.GET.get("from"), request.GET.get("to")
    if old_v is None and new_v is None and len(versions) >= 2:
        old_v, new_v = versions[1]["version"], versions[0]["version"]
    if old_v is not None or new_v is not None:
        old, new = _pick_snapshot(project, old_v), _pick_snapshot(project, new_v)
        if old is None or new is None:
            context["error"] = "Choose two existing snapshot versions to compare."
        else:
            context.update(old=old, new=new, diff=_diff_with_links(project, old, new))
    context["selected"] = {"from": str(old_v or ""), "to": str(new_v or "")}
    return render(request, "schema/diff.html", context)


def _diff_with_links(project, old, new):
    diff = diff_snapshots(old, new, limit=settings.SCHEMA_DIFF_MAX_OBJECTS)
    for obj in diff.objects:
        # Link to the newer snapshot's branch, where the changed object lives.
        obj.url = table_url(project.slug, obj.schema, obj.name, new.branch_name) if obj.status != "removed" and obj.kind in (
            "table", "partitioned table", "view", "materialized view", "foreign table"
        ) else ""  # fmt: skip
    return diff


@login_required
@require_http_methods(["GET", "POST"])
def schema_diff_branches(request, slug):
    """POST: capture both branches' schemas (engineer) then compare. GET: progress partial for htmx polling."""
    if request.method == "GET":
        project, _ = get_project_for_user(request, slug)
        return _compare_status(request, project)
    project, _ = get_project_for_user(request, slug, Role.ENGINEER, action="schema.compare_branches")
    choices = dict(_branch_choices(project))
    base, head = request.POST.get("base", ""), request.POST.get("head", "")
    if base not in choices or head not in choices or base == head:
        audit.record(request.user, "schema.compare_branches", project=project, outcome=Outcome.FAILURE,
                     error="invalid branches")  # fmt: skip
        messages.error(request, "Choose two different branches of this project.")
        return redirect("schema_diff", slug=project.slug)
    with transaction.atomic():
        run = lifecycle.enqueue(compare_branch_schemas, BRANCH_COMPARE_KIND, project=project, user=request.user,
                               params={"base": base, "head": head})  # fmt: skip
        audit.record(request.user, "schema.compare_branches", project=project, obj=run, base=base, head=head)
    if wants_partial(request):
        return _compare_status(request, project)
    return redirect("schema_diff", slug=project.slug)


def _compare_status(request, project):
    run = _latest_run(project, BRANCH_COMPARE_KIND)
    return task_partial(request, "schema/_compare_status.html", {"project": project, "compare_run": run}, run)
