"""The branches page and its actions, for each role, against the stand-in."""

from datetime import timedelta

import psycopg
import pytest
from django.utils import timezone

from dashboard.models import AuditEvent, NeonBranch, NeonCompute, Project, TaskRun
from dashboard.neon.actions import run_action
from dashboard.neon.sync import sync_project
from dashboard.taskruns import lifecycle
from dashboard.taskruns.lifecycle import reconcile_stale
from tests.neon.conftest import STANDIN_PROJECT
from tests.neon.test_sync import make_branch

WHO = ["anonymous", "other_team", "viewer", "engineer", "admin"]
B = "/projects/pagila-neon/branches/"


@pytest.fixture
def synced(neon_project, neon_standin):
    """The project synced with a second branch `dev` (branched from main)."""
    make_branch(neon_standin, "dev")
    sync_project(neon_project)
    return neon_project


def dev_id(project):
    return NeonBranch.objects.get(project=project, name="dev").branch_id


def main_id(project):
    return NeonBranch.objects.get(project=project, is_default=True).branch_id


def run_queued(project):
    """Run the queued Neon action like the worker would (claim, then act)."""
    queued = TaskRun.objects.filter(project=project, kind="neon.action", status="queued").order_by(
        "created_at"
    )
    assert queued, "no action was queued"
    for pending in queued:
        run = lifecycle.claim(str(pending.pk))
        run_action(run)
    return TaskRun.objects.filter(project=project, kind="neon.action").order_by("-created_at").first()


# (method, url, data, expected per WHO). {dev} and {main} are replaced with branch ids.
MATRIX = [
    ("get", B, None, [302, 404, 200, 200, 200]),
    ("post", B + "sync/", {}, [302, 404, 403, 302, 302]),
    ("post", B + "new/", {"parent_id": "{main}", "name": "x"}, [302, 404, 403, 403, 302]),
    ("get", B + "{dev}/delete/", None, [302, 404, 403, 403, 200]),
    ("post", B + "{dev}/delete/", {"confirm_name": "dev"}, [302, 404, 403, 403, 302]),
    ("get", B + "{dev}/reset/", None, [302, 404, 403, 403, 200]),
    ("post", B + "{dev}/reset/", {"confirm_name": "dev"}, [302, 404, 403, 403, 302]),
    ("post", B + "{dev}/start/", {}, [302, 404, 403, 403, 302]),
    ("post", B + "{dev}/suspend/", {}, [302, 404, 403, 403, 302]),
    ("post", B + "{dev}/wake/", {}, [302, 404, 403, 302, 302]),
    ("get", B + "tasks/{run}/", None, [302, 404, 200, 200, 200]),
]


@pytest.fixture
def recorded(team):
    """A Neon project with stored branches and computes only: the matrix needs no Neon API
    (actions are queued on commit, which never comes inside a test transaction)."""
    project = Project.objects.create(
        team=team,
        name="Pagila on Neon",
        slug="pagila-neon",
        pooled_url="postgresql://u:p@127.0.0.1:1/db",
        neon_project_id="p-1",
        neon_api_key="k",
    )
    main = NeonBranch.objects.create(project=project, branch_id="br-main-1", name="main", is_default=True)
    dev = NeonBranch.objects.create(project=project, branch_id="br-dev-1", name="dev", parent_id="br-main-1")
    for branch, endpoint in ((main, "ep-main-1"), (dev, "ep-dev-1")):
        NeonCompute.objects.create(
            project=project, branch=branch, endpoint_id=endpoint, host=f"{endpoint}.x", current_state="active"
        )
    return project


@pytest.mark.parametrize("who_index, who", list(enumerate(WHO)))
@pytest.mark.parametrize("method, url, data, expected", MATRIX)
def test_permission_matrix(client_for, recorded, users, who_index, who, method, url, data, expected):
    run = TaskRun.objects.create(kind="neon.sync", project=recorded, params={"action": "sync"})
    ids = {"{dev}": "br-dev-1", "{main}": "br-main-1", "{run}": str(run.pk)}
    for key, value in ids.items():
        url = url.replace(key, value)
        data = {k: v.replace(key, value) for k, v in data.items()} if data else data
    client = client_for(None if who == "anonymous" else who)
    response = getattr(client, method)(url, data) if method == "post" else client.get(url)
    assert response.status_code == expected[who_index], f"{who} {method.upper()} {url}"
    if who == "anonymous":
        assert response["Location"].startswith("/accounts/login/")


def test_non_neon_project_explains_there_are_no_branches(client_for, project):
    page = client_for("admin").get("/projects/shop/branches/")
    assert page.status_code == 200
    assert "not linked to a Neon project" in page.content.decode()
    assert client_for("admin").post("/projects/shop/branches/sync/").status_code == 404


def test_page_lists_branches_with_compute_state_hosts_and_size(client_for, synced):
    html = client_for("viewer").get(B).content.decode()
    assert "main" in html and "dev" in html
    assert "default" in html
    compute = NeonCompute.objects.get(branch__name="dev")
    assert compute.host in html and compute.pooled_host in html
    assert "active" in html
    assert "Synced from the Neon API" in html
    assert "Create a branch" not in html  # viewers see no admin forms
    assert "/delete/" not in html


def test_admin_creates_a_branch_and_it_becomes_ready(client_for, synced, neon_standin):
    client = client_for("admin")
    response = client.post(B + "new/", {"parent_id": main_id(synced), "name": "feature-1"})
    assert response.status_code == 302
    run = run_queued(synced)
    assert run.status == "succeeded", run.error
    branch = NeonBranch.objects.get(project=synced, name="feature-1")
    assert branch.current_state == "ready"
    assert branch.read_write_compute.current_state == "active"
    html = client.get(B).content.decode()
    assert "feature-1" in html
    assert AuditEvent.objects.filter(
        action="neon.create", outcome="success", actor__username="admin"
    ).exists()
    with psycopg.connect(branch.pooled_uri) as conn:
        assert conn.execute("SELECT count(*) FROM film").fetchone()[0] == 2


def test_schema_only_branch_is_created_without_rows(client_for, synced):
    client_for("admin").post(B + "new/", {"parent_id": main_id(synced), "name": "shape", "schema_only": "on"})
    assert run_queued(synced).status == "succeeded"
    with psycopg.connect(NeonBranch.objects.get(name="shape").pooled_uri) as conn:
        assert conn.execute("SELECT count(*) FROM film").fetchone()[0] == 0


def test_branch_from_a_point_in_time_is_passed_to_neon(client_for, synced, neon_standin):
    client_for("admin").post(
        B + "new/", {"parent_id": dev_id(synced), "name": "as-of", "parent_timestamp": "2026-01-02T03:04"}
    )
    assert run_queued(synced).status == "succeeded"
    created = next(b for b in neon_standin.standin.state["branches"].values() if b["name"] == "as-of")
    assert created["parent_timestamp"] == "2026-01-02T03:04:00Z"
    assert created["parent_id"] == dev_id(synced)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "bad\x07name"}, "control characters"),
        ({"name": "dev"}, "already exists"),
        ({"name": "later", "parent_timestamp": "2999-01-01T00:00"}, "must be in the past"),
        ({"name": "x", "parent_timestamp": "yesterday"}, "Enter a valid date/time"),
        ({"name": "x", "parent_id": "br-does-not-exist"}, "Select a valid choice"),
    ],
)
def test_bad_create_input_is_refused_with_a_message(client_for, synced, data, message):
    data = {"parent_id": main_id(synced), **data}
    response = client_for("admin").post(B + "new/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TaskRun.objects.filter(kind="neon.action").exists()


def test_default_branch_refuses_delete_and_reset_with_a_clear_message(client_for, synced):
    client = client_for("admin")
    for action in ("delete", "reset"):
        response = client.post(B + f"{main_id(synced)}/{action}/", {"confirm_name": "main"}, follow=True)
        verb = "deleted" if action == "delete" else "reset"
        assert f"main is the default branch and cannot be {verb}." in response.content.decode()
    assert not TaskRun.objects.filter(kind="neon.action").exists()
    assert AuditEvent.objects.filter(action="neon.delete", outcome="denied").exists()
    assert AuditEvent.objects.filter(action="neon.reset", outcome="denied").exists()


def test_protected_branch_refuses_delete(client_for, synced, neon_standin):
    for branch in neon_standin.standin.state["branches"].values():
        if branch["name"] == "dev":
            branch["protected"] = True
    sync_project(synced)
    response = client_for("admin").post(B + f"{dev_id(synced)}/delete/", {"confirm_name": "dev"}, follow=True)
    assert "dev is a protected branch and cannot be deleted." in response.content.decode()
    assert not TaskRun.objects.filter(kind="neon.action").exists()


def test_delete_needs_the_typed_name(client_for, synced):
    client_for("admin").post(B + f"{dev_id(synced)}/delete/", {"confirm_name": "DEV"})
    assert not TaskRun.objects.filter(kind="neon.action").exists()


def test_admin_deletes_a_branch(client_for, synced, neon_standin):
    client = client_for("admin")
    page = client.get(B + f"{dev_id(synced)}/delete/").content.decode()
    assert "Delete branch dev?" in page
    client.post(B + f"{dev_id(synced)}/delete/", {"confirm_name": "dev"})
    run = run_queued(synced)
    assert run.status == "succeeded"
    assert run.params["branch_name"] == "dev"
    assert not NeonBranch.objects.filter(project=synced, name="dev").exists()
    assert "Delete branch\n  <strong>dev</strong>" in client.get(B).content.decode()
    assert 'data-branch="dev"' not in client.get(B).content.decode()
    assert AuditEvent.objects.filter(action="neon.delete", outcome="success").exists()


def test_admin_resets_a_branch_from_its_parent(client_for, synced):
    dev = NeonBranch.objects.get(project=synced, name="dev")
    with psycopg.connect(dev.direct_uri, autocommit=True) as conn:
        conn.execute("DELETE FROM film")
    client_for("admin").post(B + f"{dev.branch_id}/reset/", {"confirm_name": "dev"})
    assert run_queued(synced).status == "succeeded"
    with psycopg.connect(dev.direct_uri) as conn:
        assert conn.execute("SELECT count(*) FROM film").fetchone()[0] == 2


def test_suspend_then_wake_records_the_cold_start_connect_time(client_for, synced, neon_standin):
    neon_standin.standin.cold_start_failures = 1  # the first connection after the start fails, as on Neon
    client = client_for("admin")
    client.post(B + f"{dev_id(synced)}/suspend/")
    assert run_queued(synced).status == "succeeded"
    dev_compute = NeonCompute.objects.get(branch__name="dev")
    assert dev_compute.current_state == "idle"
    assert "Start compute" in client.get(B).content.decode()
    assert "Wake compute" in client_for("engineer").get(B).content.decode()
    assert "Start compute" not in client_for("engineer").get(B).content.decode()
    client_for("engineer").post(B + f"{dev_id(synced)}/wake/")
    run = run_queued(synced)
    assert run.status == "succeeded", run.error
    dev_compute.refresh_from_db()
    assert dev_compute.current_state == "active"
    assert dev_compute.last_connect_ms is not None and dev_compute.last_connect_attempts == 2
    html = client.get(B).content.decode()
    assert f"{dev_compute.last_connect_ms} ms (2 attempts)" in html


def test_failed_action_is_shown_and_audited(client_for, synced, neon_standin):
    neon_standin.standin.fail_next(500, times=1, method="POST", path_contains="/branches")
    client_for("admin").post(B + "new/", {"parent_id": main_id(synced), "name": "boom"})
    run = run_queued(synced)
    assert run.status == "failed"
    assert "injected 500" in run.error
    page = client_for("viewer").get(B + f"tasks/{run.pk}/", HTTP_HX_REQUEST="true")
    assert page.status_code == 286  # stop polling: the run is over
    assert "injected 500" in page.content.decode()
    assert AuditEvent.objects.filter(action="neon.create", outcome="failure").exists()


def test_running_task_partial_keeps_polling(client_for, synced):
    client_for("admin").post(B + "new/", {"parent_id": main_id(synced), "name": "later"})
    run = TaskRun.objects.get(kind="neon.action")
    page = client_for("viewer").get(B + f"tasks/{run.pk}/", HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert 'hx-trigger="every 500ms"' in page.content.decode()


def test_hostile_branch_names_are_escaped(client_for, synced, neon_standin):
    make_branch(neon_standin, "<script>alert('x')</script>")
    sync_project(synced)
    html = client_for("viewer").get(B).content.decode()
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(" in html
    admin = client_for("admin")
    html = admin.get(B).content.decode()
    assert "<script>alert(" not in html
    # Inside the suspend confirmation (a data-confirm attribute read by static/js/app.js, no inline script).
    assert 'data-confirm="Suspend the compute of &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;?' in html
    hostile = NeonBranch.objects.get(project=synced, name__startswith="<script>")
    confirm = admin.get(B + f"{hostile.branch_id}/delete/").content.decode()
    assert "Delete branch &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;?" in confirm


def test_overview_shows_compute_state_and_wake_button_when_idle(client_for, synced):
    html = client_for("engineer").get("/projects/pagila-neon/").content.decode()
    assert "Neon compute" in html and "active" in html
    assert "Wake compute" not in html
    NeonCompute.objects.filter(branch__is_default=True).update(current_state="idle")
    html = client_for("engineer").get("/projects/pagila-neon/").content.decode()
    assert "Wake compute" in html
    assert "does not wake it on its own" in html
    assert "Wake compute" not in client_for("viewer").get("/projects/pagila-neon/").content.decode()


def test_sync_on_demand_is_queued_and_audited(client_for, synced):
    client_for("engineer").post(B + "sync/")
    run = TaskRun.objects.get(kind="neon.sync", status="queued")
    assert run.params == {"action": "sync"}
    assert AuditEvent.objects.filter(action="neon.sync", actor__username="engineer").exists()
    from dashboard.neon.tasks import run_sync

    run_sync(lifecycle.claim(str(run.pk)))
    run.refresh_from_db()
    assert run.status == "succeeded" and run.result["branches"] == 2
    assert STANDIN_PROJECT


def test_branches_page_runs_a_fixed_number_of_queries(client_for, recorded, django_assert_max_num_queries):
    client = client_for("admin")
    with django_assert_max_num_queries(20) as few:
        client.get(B)
    for n in range(8):
        branch = NeonBranch.objects.create(
            project=recorded, branch_id=f"br-extra-{n}", name=f"extra-{n}", parent_id="br-main-1"
        )
        NeonCompute.objects.create(
            project=recorded, branch=branch, endpoint_id=f"ep-extra-{n}", host="h.x", current_state="idle"
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get(B).content.decode()
    assert "extra-7" in html


def test_htmx_refresh_returns_only_the_table(client_for, recorded):
    response = client_for("viewer").get(B, {"part": "table"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<table class="data" id="branches">' in html
    assert "<html" not in html


def test_failed_sync_is_shown_and_audited(client_for, synced, neon_standin):
    from dashboard.neon.tasks import run_sync

    client_for("engineer").post(B + "sync/")
    run = TaskRun.objects.get(kind="neon.sync", status="queued")
    neon_standin.standin.fail_next(401)
    run_sync(lifecycle.claim(str(run.pk)))
    run.refresh_from_db()
    assert run.status == "failed"
    assert AuditEvent.objects.filter(action="neon.sync", outcome="failure").exists()
    html = client_for("viewer").get(B).content.decode()
    assert "Last sync failed" in html and "injected 401" in html
    assert 'data-branch="dev"' in html  # the stored branches are still shown


def test_admin_starts_an_idle_compute(client_for, synced):
    client = client_for("admin")
    client.post(B + f"{dev_id(synced)}/suspend/")
    run_queued(synced)
    client.post(B + f"{dev_id(synced)}/start/")
    run = run_queued(synced)
    assert run.status == "succeeded", run.error
    compute = NeonCompute.objects.get(branch__name="dev")
    assert compute.current_state == "active"
    assert compute.last_connected_at is not None
    assert AuditEvent.objects.filter(action="neon.start", outcome="success", actor__username="admin").exists()


# --- who asked is audited when they ask; a repeated request is refused -----------------------


def test_the_request_is_audited_before_any_worker_runs_it(client_for, synced):
    client_for("admin").post(B + "new/", {"parent_id": main_id(synced), "name": "feature-x"})
    run = TaskRun.objects.get(project=synced, kind="neon.action")
    assert run.status == "queued"
    requested = AuditEvent.objects.get(action="neon.create.requested")
    assert requested.actor.username == "admin" and requested.outcome == "success"
    assert requested.detail["branch"] == "feature-x"
    assert requested.detail["run"] == str(run.pk)


def test_a_lost_action_leaves_who_asked_and_how_it_ended(client_for, synced, settings):
    client_for("engineer").post(B + f"{dev_id(synced)}/wake/")
    TaskRun.objects.filter(project=synced, kind="neon.action").update(
        created_at=timezone.now() - timedelta(seconds=settings.TASK_QUEUED_STALE_AFTER_SECONDS + 1)
    )

    assert reconcile_stale() == 1

    assert AuditEvent.objects.get(action="neon.wake.requested").actor.username == "engineer"
    outcome = AuditEvent.objects.get(action="neon.wake")
    assert outcome.outcome == "failure" and outcome.actor.username == "engineer"
    assert "No worker picked the task up" in outcome.detail["error"]


def test_a_second_identical_create_while_the_first_runs_is_refused(client_for, synced, neon_standin):
    client = client_for("admin")
    data = {"parent_id": main_id(synced), "name": "twice"}
    client.post(B + "new/", data)
    second = client.post(B + "new/", data, follow=True)

    assert "already requested and has not finished" in second.content.decode()
    assert TaskRun.objects.filter(project=synced, kind="neon.action").count() == 1
    denied = AuditEvent.objects.get(action="neon.create", outcome="denied")
    assert denied.actor.username == "admin" and denied.detail["branch"] == "twice"
    # A different request is not held up by the first one.
    client.post(B + "new/", {"parent_id": main_id(synced), "name": "other"})
    assert TaskRun.objects.filter(project=synced, kind="neon.action", status="queued").count() == 2

    run_queued(synced)
    names = [b["name"] for b in neon_standin.standin.branches_of("proj-standin")]
    assert names.count("twice") == 1 and names.count("other") == 1
