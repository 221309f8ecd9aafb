"""A guard for views added later: every dashboard URL refuses strangers.

Walks the whole URL map, fills in each parameter, and checks that an anonymous visitor is
sent to the login page and that a member of another team learns nothing (404) about a
project's pages, whatever the method. The per-area matrices check the roles in detail.
"""

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from dashboard.models import TaskRun

PUBLIC = {
    "accounts/login/",
    "accounts/logout/",
    "",
    "metrics",
    "favicon.ico",
}  # login, logout, redirects, token-auth API
SAMPLE = {"slug": "shop", "schema": "public", "table": "orders", "branch_id": "br-x", "member_id": "1",
          "queryid": "1", "pid": "1", "run_id": str(uuid.uuid4()), "migration_id": "1",
          "benchmark_id": "1", "series_id": "1"}  # fmt: skip


def dashboard_routes():
    """(route template, parameter names) of every URL outside Django admin."""
    found = []

    def walk(patterns, prefix=""):
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                if not route.startswith("admin/"):
                    walk(p.url_patterns, route)
            elif isinstance(p, URLPattern):
                found.append(route)

    walk(get_resolver().url_patterns)
    return sorted(set(found))


def concrete(route: str) -> str:
    import re

    def fill(match):
        name = match.group(2)
        assert name in SAMPLE, f"add a sample value for <{name}> in {route}"
        return SAMPLE[name]

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)


ROUTES = [r for r in dashboard_routes() if r not in PUBLIC and not r.startswith("api/")]


def test_the_walk_finds_every_area():
    joined = " ".join(ROUTES)
    for area in (
        "projects/new/",
        "/branches/",
        "/schema/",
        "/queries/",
        "/activity/",
        "/migrations/",
        "/benchmarks/",
        "teams/",
    ):
        assert area in joined


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("route", ROUTES)
def test_anonymous_visitors_are_sent_to_login(client, db, route, method):
    response = getattr(client, method)(concrete(route))
    assert response.status_code in (302, 405), route
    if response.status_code == 302:
        assert response["Location"].startswith("/accounts/login/"), route


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.startswith(("projects/<slug:slug>/", "teams/<slug:slug>/"))]
)
def test_members_of_another_team_get_404(client_for, project, route, method):
    TaskRun.objects.create(pk=SAMPLE["run_id"], kind="connection_check", project=project)
    url = concrete(route).replace("/teams/shop/", "/teams/acme/")
    response = getattr(client_for("other_team"), method)(url)
    assert response.status_code in (404, 405), f"{method.upper()} {url}"
