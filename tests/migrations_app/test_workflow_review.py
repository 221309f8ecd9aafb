"""Review: approvals pinned to the checksum, never by the author, withdrawn by an edit; rejections;
refusals while blocking findings are open or the rehearsal failed; history on the list page."""

import pytest

from dashboard.models import AuditEvent
from migrations_app.models import Approval, MigrationRequest, ProjectMigrationPolicy, Rehearsal
from tests.conftest import make_user
from tests.migrations_app.workflow_support import approved, draft, page, rehearsed

pytestmark = pytest.mark.django_db


def url(req, action=""):
    return f"/projects/shop/migrations/{req.pk}/{action}"


def test_the_author_cannot_approve_their_own_revision(client_for, project, users):
    req = rehearsed(draft(project, users["admin"]))
    client = client_for("admin")
    assert "another admin must approve it" in page(client, req) and "Approve revision" not in page(
        client, req
    )
    response = client.post(url(req, "approve/"))
    assert response.status_code == 403
    assert not Approval.objects.exists()
    req.refresh_from_db()
    assert req.state == "awaiting_approval"
    assert AuditEvent.objects.filter(
        action="migration.approve", outcome="denied", actor=users["admin"]
    ).exists()


def test_admin_approves_the_engineers_revision(client_for, project, users):
    req = rehearsed(draft(project, users["engineer"]))
    response = client_for("admin").post(url(req, "approve/"), {"comment": "Looks safe"})
    assert response.status_code == 302
    approval = Approval.objects.get()
    assert approval.checksum == req.revisions.get().checksum and approval.comment == "Looks safe"
    req.refresh_from_db()
    assert req.state == "approved"
    shown = page(client_for("engineer"), req)
    assert "1 of 1 for this checksum" in shown and "Apply to default branch" in shown


def test_editing_withdraws_approvals_and_invalidates_the_rehearsal(client_for, project, users):
    req = approved(rehearsed(draft(project, users["engineer"])), users["admin"])
    old_rehearsal = Rehearsal.objects.get()
    response = client_for("engineer").post(
        url(req, "edit/"),
        {"title": req.title, "sql": "CREATE TABLE audit_log (id bigint PRIMARY KEY, at timestamptz);"},
    )
    assert response.status_code == 302
    req.refresh_from_db()
    revision = req.revisions.order_by("-number").first()
    assert revision.number == 2 and req.state == "rehearsing"
    assert Approval.objects.get().withdrawn_at is not None
    old_rehearsal.refresh_from_db()
    assert old_rehearsal.status == "invalidated"
    assert Rehearsal.objects.filter(revision=revision, status="queued").exists()  # a new one for the new SQL
    shown = page(client_for("admin"), req)
    assert "withdrawn: the SQL changed" in shown and "0 of 1 for this checksum" in shown
    applying = client_for("engineer").post(url(req, "apply/"))
    assert applying.status_code == 302 and not req.revisions.filter(apply_runs__isnull=False).exists()
    event = AuditEvent.objects.get(action="migration.revise")
    assert event.detail["approvals_withdrawn"] == 1 and event.detail["rehearsals_invalidated"] == 1


def test_approving_with_blocking_findings_is_refused(client_for, project, users):
    req = draft(project, users["engineer"], sql="CREATE INDEX film_title ON film (title);")
    assert req.state == "linted"
    response = client_for("admin").post(url(req, "approve/"), follow=True)
    assert "Blocking lint findings are open" in response.content.decode()
    assert not Approval.objects.exists()


def test_a_rule_made_blocking_after_submission_blocks_approval(client_for, project, users):
    req = rehearsed(draft(project, users["engineer"], sql="ALTER TABLE film ADD COLUMN rating_id int;"))
    policy = ProjectMigrationPolicy.for_project(project)
    policy.blocking_rules = policy.blocking_rules + ["prefer-bigint-over-int"]
    policy.save()
    response = client_for("admin").post(url(req, "approve/"), follow=True)
    assert "Blocking lint findings are open" in response.content.decode()
    assert not Approval.objects.exists()


def test_approving_after_a_failed_rehearsal_is_refused(client_for, project, users):
    req = rehearsed(draft(project, users["engineer"]), status="failed", reason="Statement 1 failed: boom")
    response = client_for("admin").post(url(req, "approve/"), follow=True)
    body = response.content.decode()
    assert "The rehearsal failed" in body and "Statement 1 failed: boom" in body
    assert not Approval.objects.exists()


def test_reject_needs_a_comment_and_stops_the_apply(client_for, project, users):
    req = rehearsed(draft(project, users["engineer"]))
    client = client_for("admin")
    assert "a comment is required" in client.post(url(req, "reject/"), follow=True).content.decode()
    client.post(url(req, "reject/"), {"comment": "Use a partial index <b>instead</b>"})
    req.refresh_from_db()
    assert req.state == "rejected"
    shown = page(client_for("engineer"), req)
    assert "Use a partial index &lt;b&gt;instead&lt;/b&gt;" in shown
    assert "cannot be applied" in shown


def test_two_approvals_required_when_the_project_says_so(client_for, project, users, team):
    from dashboard.models import Membership, Role

    policy = ProjectMigrationPolicy.for_project(project)
    policy.approvals_required = 2
    policy.save()
    second_admin = make_user("admin2")
    Membership.objects.create(team=team, user=second_admin, role=Role.ADMIN)
    req = rehearsed(draft(project, users["engineer"]))
    client_for("admin").post(url(req, "approve/"))
    req.refresh_from_db()
    assert req.state == "awaiting_approval"
    again = client_for("admin").post(url(req, "approve/"), follow=True)
    assert "already approved" in again.content.decode()
    client = client_for(None)
    client.force_login(second_admin)
    client.post(url(req, "approve/"))
    req.refresh_from_db()
    assert req.state == "approved"


def test_cancel_withdraws_a_pending_request(client_for, project, users):
    req = rehearsed(draft(project, users["engineer"]))
    client_for("engineer").post(url(req, "cancel/"))
    req.refresh_from_db()
    assert req.state == "cancelled"
    assert (
        "cannot be cancelled"
        in client_for("engineer").post(url(req, "cancel/"), follow=True).content.decode()
    )


def test_list_shows_pending_requests_with_their_state(client_for, project, users):
    draft(project, users["engineer"], title="First change")
    rehearsed(draft(project, users["engineer"], sql="CREATE TABLE b (id bigint);", title="Second change"))
    listing = client_for("viewer").get("/projects/shop/migrations/").content.decode()
    pending = listing.split('id="pending"')[1].split("</table>")[0]
    assert "First change" in pending and "Rehearsing" in pending
    assert "Second change" in pending and "Awaiting approval" in pending
    assert MigrationRequest.objects.count() == 2
