"""Syncing branches and computes from the stand-in, and the contract other areas use."""

import psycopg
import pytest

from dashboard.connections import direct_url, read_url
from dashboard.models import NeonBranch, NeonCompute, NeonSyncState
from dashboard.neon.client import NeonAPIError
from dashboard.neon.state import branches_for, compute_is_idle
from dashboard.neon.sync import client_for, sync_project
from dashboard.targets.urls import InvalidURL
from tests.neon.conftest import STANDIN_PROJECT


def make_branch(neon_standin, name):
    with client_for_standin(neon_standin) as client:
        created = client.create_branch(STANDIN_PROJECT, name=name)
        client.wait_for_operations(STANDIN_PROJECT, created["operations"], poll_seconds=0.02)
    return created


def client_for_standin(neon_standin):
    from dashboard.neon.client import NeonClient
    from tests.neon.conftest import STANDIN_KEY

    return NeonClient(STANDIN_KEY, base_url=neon_standin.base_url)


def suspend(neon_standin, endpoint_id):
    with client_for_standin(neon_standin) as client:
        answer = client.suspend_endpoint(STANDIN_PROJECT, endpoint_id)
        client.wait_for_operations(STANDIN_PROJECT, answer["operations"], poll_seconds=0.02)


def test_sync_stores_branches_and_computes(neon_project, neon_standin):
    make_branch(neon_standin, "dev")
    summary = sync_project(neon_project)
    assert summary.branches == 2 and summary.computes == 2
    branches = branches_for(neon_project)
    assert [b.name for b in branches] == ["main", "dev"]
    assert branches[0].is_default and not branches[1].is_default
    assert branches[1].parent_id == branches[0].branch_id
    assert branches[1].read_write_compute.current_state == "active"
    assert NeonSyncState.objects.get(project=neon_project).synced_at is not None


def test_sync_removes_branches_deleted_in_neon(neon_project, neon_standin):
    created = make_branch(neon_standin, "gone-soon")
    sync_project(neon_project)
    with client_for_standin(neon_standin) as client:
        deleted = client.delete_branch(STANDIN_PROJECT, created["branch"]["id"])
        client.wait_for_operations(STANDIN_PROJECT, deleted["operations"], poll_seconds=0.02)
    sync_project(neon_project)
    assert [b.name for b in branches_for(neon_project)] == ["main"]
    assert NeonCompute.objects.filter(project=neon_project).count() == 1


def test_unknown_fields_and_new_enum_values_are_tolerated(neon_project, neon_standin):
    standin = neon_standin.standin
    for endpoint in standin.state["endpoints"].values():
        endpoint["current_state"] = "hibernating"
        endpoint["brand_new_field"] = {"nested": [1, 2]}
    for branch in standin.state["branches"].values():
        branch["current_state"] = "archived"
    sync_project(neon_project)
    compute = NeonCompute.objects.get(project=neon_project)
    assert compute.current_state == "hibernating"
    assert NeonBranch.objects.get(project=neon_project).current_state == "archived"
    assert compute_is_idle(neon_project) is False


def test_sync_failure_is_recorded_and_keeps_the_stored_data(neon_project, neon_standin):
    sync_project(neon_project)
    neon_standin.standin.fail_next(401, times=1)
    with pytest.raises(NeonAPIError):
        sync_project(neon_project)
    state = NeonSyncState.objects.get(project=neon_project)
    assert "injected 401" in state.error
    assert [b.name for b in branches_for(neon_project)] == ["main"]


def test_branch_urls_connect_to_the_branch_database(neon_project, neon_standin):
    make_branch(neon_standin, "dev")
    sync_project(neon_project)
    dev = NeonBranch.objects.get(project=neon_project, name="dev")
    assert read_url(neon_project) == neon_project.pooled_url
    assert read_url(neon_project, dev) != neon_project.pooled_url
    with psycopg.connect(read_url(neon_project, "dev")) as conn:
        conn.execute("INSERT INTO film VALUES (3, 'ONLY ON DEV')")
    with psycopg.connect(direct_url(neon_project, dev.branch_id)) as conn:
        assert conn.execute("SELECT count(*) FROM film").fetchone()[0] == 3
    with psycopg.connect(read_url(neon_project)) as conn:
        assert conn.execute("SELECT count(*) FROM film").fetchone()[0] == 2


def test_unknown_branch_gives_a_clear_error(neon_project):
    sync_project(neon_project)
    with pytest.raises(InvalidURL, match="unknown"):
        read_url(neon_project, "no-such-branch")


def test_compute_is_idle_follows_neon(neon_project, neon_standin, settings):
    sync_project(neon_project)
    assert compute_is_idle(neon_project) is False
    endpoint_id = NeonCompute.objects.get(project=neon_project).endpoint_id
    suspend(neon_standin, endpoint_id)
    settings.NEON_STATE_MAX_AGE_SECONDS = 0  # stored state is stale at once: ask the API
    assert compute_is_idle(neon_project) is True
    assert NeonCompute.objects.get(project=neon_project).current_state == "idle"


def test_compute_counts_as_idle_when_neon_cannot_be_asked(neon_project, neon_standin, settings):
    sync_project(neon_project)
    settings.NEON_STATE_MAX_AGE_SECONDS = 0
    neon_standin.standin.fail_next(503, times=1)
    assert compute_is_idle(neon_project) is True


def test_non_neon_projects_have_no_branches_and_are_never_idle(project):
    assert branches_for(project) == []
    assert compute_is_idle(project) is False
    assert read_url(project) == project.pooled_url


def test_client_for_uses_the_configured_base_url(neon_project, neon_standin):
    with client_for(neon_project) as client:
        assert client.get_project(STANDIN_PROJECT)["id"] == STANDIN_PROJECT


def test_branch_picker_lists_branches_and_keeps_the_choice(rf, neon_project, neon_standin):
    from django.template import Context, Template

    from dashboard.neon.state import branch_from_request

    make_branch(neon_standin, "dev")
    sync_project(neon_project)
    template = Template("{% load neon_tags %}{% neon_branch_picker project %}")
    request = rf.get("/projects/pagila-neon/schema/", {"branch": "dev"})
    html = template.render(Context({"request": request, "project": neon_project}))
    assert '<option value="dev" selected>' in html
    assert "main (default)" in html
    assert branch_from_request(request, neon_project).name == "dev"
    unknown = rf.get("/projects/pagila-neon/schema/", {"branch": "<b>nope</b>"})
    html = template.render(Context({"request": unknown, "project": neon_project}))
    assert "No branch named “&lt;b&gt;nope&lt;/b&gt;”; showing main." in html
    assert branch_from_request(unknown, neon_project) is None


def test_missing_api_key_is_recorded_as_the_sync_error(neon_project):
    neon_project.neon_api_key = ""
    neon_project.save()
    with pytest.raises(NeonAPIError):
        sync_project(neon_project)
    assert "No Neon API key" in NeonSyncState.objects.get(project=neon_project).error


def test_a_compute_being_suspended_counts_as_idle(neon_project):
    sync_project(neon_project)
    NeonCompute.objects.filter(project=neon_project).update(current_state="active", pending_state="idle")
    assert compute_is_idle(neon_project) is True


def test_idle_notice_offers_a_wake_button_to_engineers_only(rf, neon_project, users):
    from django.template import Context, Template

    from dashboard.models import Membership

    sync_project(neon_project)
    template = Template("{% load neon_tags %}{% neon_idle_notice project %}")

    def render(role):
        membership = Membership.objects.get(user=users[role], team=neon_project.team)
        context = {
            "request": rf.get("/"),
            "project": neon_project,
            "membership": membership,
            "csrf_token": "t",
        }
        return template.render(Context(context))

    assert render("engineer").strip() == ""  # active compute: nothing to say
    NeonCompute.objects.filter(project=neon_project).update(current_state="idle")
    assert "is suspended" in render("viewer") and "Wake compute" not in render("viewer")
    assert "/wake/" in render("engineer")


def test_a_neon_project_without_a_compute_record_counts_as_idle(neon_project):
    assert NeonCompute.objects.filter(project=neon_project).count() == 0
    assert compute_is_idle(neon_project) is True
    sync_project(neon_project)
    assert compute_is_idle(neon_project) is False
    NeonCompute.objects.filter(project=neon_project).delete()  # rows lost
    assert compute_is_idle(neon_project) is True


def test_idle_notice_and_wake_button_follow_the_jobs_decision(
    rf, neon_project, neon_standin, users, settings
):
    """A compute being suspended, or one Neon cannot be asked about, is idle for jobs and for the pages."""
    from django.template import Context, Template

    from dashboard.models import Membership

    sync_project(neon_project)
    membership = Membership.objects.get(user=users["engineer"], team=neon_project.team)

    def render(source):
        context = {
            "request": rf.get("/"),
            "project": neon_project,
            "membership": membership,
            "csrf_token": "t",
        }
        return Template("{% load neon_tags %}" + source).render(Context(context))

    notice = "{% neon_idle_notice project %}"
    overview = "{% include 'neon/_overview.html' %}"
    assert render(notice).strip() == "" and "Wake compute" not in render(overview)

    NeonCompute.objects.filter(project=neon_project).update(current_state="active", pending_state="idle")
    assert compute_is_idle(neon_project) is True
    assert "being suspended" in render(notice) and "/wake/" in render(notice)
    assert "Wake compute" in render(overview)

    NeonCompute.objects.filter(project=neon_project).update(pending_state="")
    settings.NEON_STATE_MAX_AGE_SECONDS = 0
    neon_standin.standin.fail_next(503, times=2)
    assert compute_is_idle(neon_project) is True
    assert "Neon did not answer" in render(notice)


def test_a_sync_run_on_an_odd_neon_payload_ends_failed_and_audited(neon_project, neon_standin, users):
    """An endpoint without an id (a KeyError in the sync) fails the run instead of leaving it running."""
    from dashboard.models import AuditEvent, TaskRun
    from dashboard.neon.tasks import SYNC_KIND, sync_neon_project

    endpoint = next(iter(neon_standin.standin.state["endpoints"].values()))
    odd = {key: value for key, value in endpoint.items() if key != "id"}
    neon_standin.standin.state["endpoints"]["ep-without-id"] = odd
    run = TaskRun.objects.create(kind=SYNC_KIND, project=neon_project, created_by=users["admin"])

    sync_neon_project(str(run.pk))

    run.refresh_from_db()
    assert run.status == "failed"
    assert "unexpected error (KeyError)" in run.error
    event = AuditEvent.objects.get(action="neon.sync", project=neon_project)
    assert event.outcome == "failure" and event.actor == users["admin"]


def test_one_broken_project_does_not_stop_the_periodic_sync_of_the_others(neon_project, team, settings):
    """A key stored with a removed encryption key fails only its own project's sync, recorded on it."""
    from cryptography.fernet import Fernet

    from dashboard.models import Project
    from dashboard.neon.tasks import sync_neon_project_periodically

    current_keys = settings.FIELD_ENCRYPTION_KEYS
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # a key that is later removed
    broken = Project.objects.create(
        team=team,
        name="Aaa broken",
        slug="aaa-broken",
        pooled_url=neon_project.pooled_url,
        neon_project_id=STANDIN_PROJECT,
        neon_api_key="key-under-a-removed-encryption-key",
    )
    settings.FIELD_ENCRYPTION_KEYS = current_keys

    outcome = {p.slug: sync_neon_project_periodically(p.pk) for p in Project.objects.order_by("slug")}

    assert outcome["pagila-neon"] == {"branches": 1, "computes": 1, "idle_computes": 0}
    assert "credentials cannot be decrypted; re-enter them" in outcome["aaa-broken"]["error"]
    assert NeonSyncState.objects.get(project=neon_project).synced_at is not None
    state = NeonSyncState.objects.get(project_id=broken.pk)
    assert state.synced_at is None and "cannot be decrypted" in state.error
    assert "key-under" not in state.error
    assert [b.name for b in branches_for(neon_project)] == ["main"]


def test_state_synced_one_interval_ago_is_used_without_asking_the_api(neon_project, neon_standin, settings):
    """With the default settings the periodic sync keeps the state fresh: idle checks cost no API call."""
    from datetime import timedelta

    from django.utils import timezone

    sync_project(neon_project)
    just_before_next_sync = timezone.now() - timedelta(seconds=settings.NEON_SYNC_INTERVAL_SECONDS)
    NeonCompute.objects.filter(project=neon_project).update(synced_at=just_before_next_sync)
    calls_before = neon_standin.standin.calls("GET", "/endpoints/")
    assert compute_is_idle(neon_project) is False
    assert neon_standin.standin.calls("GET", "/endpoints/") == calls_before
