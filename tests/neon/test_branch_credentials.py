"""Branch URIs stored from Neon follow the project's credentials: refreshed on edit and on a refused login."""

import pytest

from dashboard.connections import open_target
from dashboard.models import NeonBranch, TaskRun
from dashboard.neon.sync import sync_project
from dashboard.neon.tasks import SYNC_KIND, sync_neon_project
from dashboard.targets.connect import TargetError
from tests.neon.test_sync import make_branch


def with_password(uri: str, password: str) -> str:
    scheme, rest = uri.split("://", 1)
    user = rest.split(":", 1)[0]
    return f"{scheme}://{user}:{password}@{rest.split('@', 1)[1]}"


@pytest.fixture
def dev(neon_project, neon_standin):
    """A branch `dev` whose stored URIs carry a password the server no longer accepts."""
    make_branch(neon_standin, "dev")
    sync_project(neon_project)
    branch = NeonBranch.objects.get(project=neon_project, name="dev")
    current = branch.pooled_uri
    branch.pooled_uri = with_password(current, "old-password")
    branch.direct_uri = with_password(branch.direct_uri, "old-password")
    branch.save()
    return branch, current


def uri_calls(neon_standin) -> int:
    return neon_standin.standin.calls("GET", "/connection_uri")


def test_a_refused_login_on_a_branch_refreshes_its_uris_once_and_connects(neon_project, neon_standin, dev):
    branch, current = dev
    before = uri_calls(neon_standin)
    with open_target(neon_project, branch) as target, target.read_only() as cur:
        assert cur.execute("SELECT count(*) FROM film").fetchone()[0] == 2
    assert uri_calls(neon_standin) - before == 2  # pooled and direct, once
    stored = NeonBranch.objects.get(pk=branch.pk)
    assert stored.pooled_uri == current and "old-password" not in stored.direct_uri


def test_when_neon_cannot_refresh_the_login_error_is_shown_after_one_try(neon_project, neon_standin, dev):
    branch, _ = dev
    neon_standin.standin.fail_next(404, times=10, path_contains="/connection_uri")
    before = uri_calls(neon_standin)
    with pytest.raises(TargetError) as caught, open_target(neon_project, branch):
        pass
    assert caught.value.code == "auth" and "Authentication failed" in caught.value.message
    assert uri_calls(neon_standin) - before == 1  # one refresh attempt, no loop
    assert "old-password" in NeonBranch.objects.get(pk=branch.pk).pooled_uri


def test_editing_the_credentials_fetches_new_branch_uris(
    client_for, neon_project, neon_standin, standin_db, dev
):
    branch, current = dev
    new_url = neon_standin.standin.uri_for_database(standin_db)
    neon_project.pooled_url = with_password(new_url, "old-password")  # registered before the change
    neon_project.save()
    response = client_for("admin").post(
        "/projects/pagila-neon/edit/",
        {"name": neon_project.name, "slug": neon_project.slug, "pooled_url": new_url,
         "neon_project_id": neon_project.neon_project_id},
    )  # fmt: skip
    assert response.status_code == 302
    assert NeonBranch.objects.get(pk=branch.pk).pooled_uri == ""  # the old ones are gone at once
    run = TaskRun.objects.get(project=neon_project, kind=SYNC_KIND, status="queued")

    sync_neon_project(str(run.pk))  # what the worker does with the queued sync

    stored = NeonBranch.objects.get(pk=branch.pk)
    assert stored.pooled_uri == current and "old-password" not in stored.direct_uri
    with open_target(neon_project, stored) as target, target.read_only() as cur:
        assert cur.execute("SELECT 1").fetchone() == (1,)
