"""The per-project migration policy page: admins set approvals, timeouts, the rehearsal size limit and
the level of every squawk rule; audited; nothing is re-linted, the next revision follows the new levels."""

import pytest

from dashboard.models import AuditEvent
from migrations_app.engine.squawk import KNOWN_RULES
from migrations_app.models import ProjectMigrationPolicy
from migrations_app.services import workflow
from tests.migrations_app.workflow_support import draft, rehearsed

pytestmark = pytest.mark.django_db

URL = "/projects/shop/migrations/policy/"
VALID = {
    "approvals_required": "2",
    "lock_timeout_ms": "1500",
    "statement_timeout_ms": "120000",
    "rehearsal_max_table_mb": "5",
}
# squawk warns about a new column with a volatile default (adding-field-with-default) by default.
VOLATILE = "ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();"


def rules_of(revision) -> dict:
    return {f["rule"]: f for f in revision.findings}


@pytest.mark.parametrize(
    "who, get_status, post_status",
    [("anonymous", 302, 302), ("other_team", 404, 404), ("viewer", 403, 403), ("engineer", 403, 403),
     ("admin", 200, 302)],
)  # fmt: skip
def test_only_admins_of_the_team_see_and_set_the_policy(client_for, project, who, get_status, post_status):
    client = client_for(None if who == "anonymous" else who)
    assert client.get(URL).status_code == get_status
    assert client.post(URL, VALID).status_code == post_status
    policy = ProjectMigrationPolicy.for_project(project)
    assert (policy.approvals_required == 2) == (who == "admin")
    if who in ("viewer", "engineer"):
        assert AuditEvent.objects.filter(actor__username=who, outcome="denied").exists()


def test_the_page_lists_every_rule_the_engine_knows_with_its_level(client_for, project):
    html = client_for("admin").get(URL).content.decode()
    for rule in KNOWN_RULES:
        assert f"<code>{rule}</code>" in html
    for own in ("syntax-error", "transaction-control", "destructive", "non-transactional"):
        assert f"<code>{own}</code>" in html
    # The defaults: concurrent index rules block, the timeout rules are off (the worker sets both).
    assert (
        '<option value="block" selected>'
        in html.split('name="rule-require-concurrent-index-creation"')[1][:300]
    )
    assert '<option value="off" selected>' in html.split('name="rule-require-lock-timeout"')[1][:300]
    assert "re-lints nothing" in html and "next revision" in html


def test_saving_stores_every_setting_and_audits_what_changed(client_for, project, users):
    data = {**VALID, "rule-adding-field-with-default": "block", "rule-prefer-robust-stmts": "off"}
    response = client_for("admin").post(URL, data)
    assert response.status_code == 302 and response.url == URL
    policy = ProjectMigrationPolicy.for_project(project)
    assert (policy.approvals_required, policy.lock_timeout_ms, policy.statement_timeout_ms) == (
        2,
        1500,
        120000,
    )
    assert policy.rehearsal_max_table_bytes == 5 * 1024 * 1024
    assert "adding-field-with-default" in policy.blocking_rules
    assert "require-concurrent-index-creation" in policy.blocking_rules  # left out of the POST: kept
    assert "prefer-robust-stmts" in policy.disabled_rules and "require-lock-timeout" in policy.disabled_rules
    event = AuditEvent.objects.get(action="migration.policy")
    assert event.actor == users["admin"] and event.outcome == "success"
    assert set(event.detail["changed"]) == {
        "approvals_required", "lock_timeout_ms", "statement_timeout_ms", "rehearsal_max_table_bytes"
    }  # fmt: skip
    assert event.detail["rules"] == {"adding-field-with-default": "block", "prefer-robust-stmts": "off"}
    assert "1500" in client_for("admin").get(URL).content.decode()


@pytest.mark.parametrize(
    "field, value",
    [("approvals_required", "0"), ("lock_timeout_ms", "0"), ("statement_timeout_ms", "-5"),
     ("rehearsal_max_table_mb", "x"), ("rule-adding-field-with-default", "sometimes"),
     ("approvals_required", "<script>alert(1)</script>")],
)  # fmt: skip
def test_bad_input_gets_a_message_and_changes_nothing(client_for, project, field, value):
    before = ProjectMigrationPolicy.for_project(project)
    response = client_for("admin").post(URL, {**VALID, field: value})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="error" role="alert"' in html and "<script>alert(1)</script>" not in html
    after = ProjectMigrationPolicy.objects.get(pk=before.pk)
    assert (after.approvals_required, after.lock_timeout_ms, after.blocking_rules) == (
        before.approvals_required, before.lock_timeout_ms, before.blocking_rules
    )  # fmt: skip
    assert not AuditEvent.objects.filter(action="migration.policy").exists()


def test_a_changed_policy_relints_nothing_and_applies_to_the_next_revision(client_for, project, users):
    first = draft(project, users["engineer"], sql=VOLATILE, title="Token")
    before = workflow.current_revision(first)
    assert rules_of(before)["adding-field-with-default"]["blocking"] is False
    client_for("admin").post(
        URL, {**VALID, "rule-adding-field-with-default": "block", "rule-prefer-bigint-over-int": "off"}
    )
    before.refresh_from_db()
    assert rules_of(before)["adding-field-with-default"]["blocking"] is False  # not re-linted
    second = draft(
        project, users["engineer"], sql=VOLATILE + "\nALTER TABLE orders ADD COLUMN n int;", title="Next"
    )
    revision = workflow.current_revision(second)
    assert rules_of(revision)["adding-field-with-default"]["blocking"] is True and revision.blocked
    assert "prefer-bigint-over-int" not in rules_of(revision)  # off: squawk does not run it
    second.refresh_from_db()
    assert second.state == "linted"  # blocked: no rehearsal, no approval


def test_the_approvals_count_applies_to_approvals_from_then_on(client_for, project, users):
    req = rehearsed(draft(project, users["engineer"]))
    client_for("admin").post(URL, VALID)  # two approvals needed now
    workflow.approve(req, users["admin"])
    req.refresh_from_db()
    assert req.state == "awaiting_approval"
    assert (
        "1 of 2 for this checksum"
        in client_for("viewer").get(f"/projects/shop/migrations/{req.pk}/").content.decode()
    )
