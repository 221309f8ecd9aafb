"""Drafting and editing: lint at submit, syntax errors at line and column, destructive acknowledgement,
findings beside their statement, the advisor's pre-filled draft, hostile text rendered escaped."""

import html

import pytest

from dashboard.models import AuditEvent
from migrations_app.models import MigrationRequest, ProjectMigrationPolicy, Rehearsal, Revision
from tests.migrations_app.workflow_support import page

pytestmark = pytest.mark.django_db


def post_new(client, sql, title="Change", **extra):
    return client.post("/projects/shop/migrations/new/", {"title": title, "sql": sql, **extra})


def test_engineer_drafts_and_is_sent_to_the_request_page(client_for, project):
    response = post_new(client_for("engineer"), "CREATE TABLE audit_log (id bigint PRIMARY KEY);")
    req = MigrationRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/projects/shop/migrations/{req.pk}/"
    revision = Revision.objects.get(request=req)
    assert revision.number == 1 and len(revision.checksum) == 64 and revision.author.username == "engineer"
    assert req.state == "rehearsing"  # lint passed, so the rehearsal was queued at once
    assert Rehearsal.objects.get(revision=revision).task_run.kind == "migrations.rehearse"
    assert AuditEvent.objects.filter(action="migration.draft", actor__username="engineer").exists()


def test_syntax_error_is_shown_at_its_line_and_column_and_nothing_is_saved(client_for, project):
    response = post_new(client_for("engineer"), "CREATE TABLE a (id int);\nCREATE TABL b (id int);")
    assert response.status_code == 400
    assert "Syntax error at line 2, column 8" in response.content.decode()
    assert "TABL" in response.content.decode()
    assert not MigrationRequest.objects.exists()


def test_destructive_statement_needs_the_acknowledgement_box(client_for, project):
    client = client_for("engineer")
    refused = post_new(client, "ALTER TABLE film ADD COLUMN x int;\nDROP TABLE film;")
    body = refused.content.decode()
    assert refused.status_code == 400 and not MigrationRequest.objects.exists()
    assert "Statement 2 is destructive: tick the box to acknowledge it." in body
    assert "drops table film and the data in it" in body
    accepted = post_new(
        client, "ALTER TABLE film ADD COLUMN x int;\nDROP TABLE film;", acknowledge_destructive="on"
    )
    assert accepted.status_code == 302
    revision = Revision.objects.get()
    assert revision.destructive_acknowledged
    shown = page(client_for("admin"), revision.request)
    # Destructive statements are marked in red for the approver.
    assert 'class="statement destructive" id="statement-2"' in shown
    assert 'class="statement" id="statement-1"' in shown


def test_findings_appear_beside_their_statement_and_blocking_ones_keep_it_a_draft(client_for, project):
    sql = "CREATE TABLE t (id int);\nCREATE INDEX film_title ON film (title);\nVACUUM film;"
    response = post_new(client_for("engineer"), sql)
    req = MigrationRequest.objects.get()
    assert response.status_code == 302 and req.state == "linted"
    assert not Rehearsal.objects.exists()  # blocked: no rehearsal until it is fixed
    shown = page(client_for("engineer"), req)
    second = shown.split('id="statement-2"')[1].split("</article>")[0]
    assert '">blocking</span> <code>require-concurrent-index-creation</code>' in second
    assert "Use `concurrently` to avoid blocking writes." in second  # squawk's help text
    third = shown.split('id="statement-3"')[1].split("</article>")[0]
    assert "runs on its own" in third and "VACUUM cannot run inside a transaction block" in third
    assert "require-concurrent-index-creation" not in shown.split('id="statement-2"')[0]
    assert "1 blocking finding" in shown


def test_a_rule_the_project_turns_off_blocking_only_warns(client_for, project):
    policy = ProjectMigrationPolicy.for_project(project)
    policy.blocking_rules = []
    policy.save()
    post_new(client_for("engineer"), "CREATE INDEX film_title ON film (title);")
    req = MigrationRequest.objects.get()
    assert req.state == "rehearsing"
    first = page(client_for("engineer"), req).split('id="statement-1"')[1].split("</article>")[0]
    assert (
        '">warning</span> <code>require-concurrent-index-creation' in first
        and ">blocking</span>" not in first
    )


def test_begin_written_by_the_author_is_refused(client_for, project):
    post_new(client_for("engineer"), "BEGIN;\nCREATE TABLE t (id int);\nCOMMIT;")
    req = MigrationRequest.objects.get()
    assert req.state == "linted"
    shown = page(client_for("engineer"), req)
    assert "BEGIN is refused: the applier owns transactions" in shown
    assert "COMMIT is refused" in shown


def test_advisor_draft_button_prefills_title_and_sql(client_for, project):
    sql = 'CREATE INDEX CONCURRENTLY "rental_customer_id_idx" ON "public"."rental" ("customer_id");'
    response = client_for("engineer").get(
        "/projects/shop/migrations/new/", {"title": "FK without index", "sql": sql}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'value="FK without index"' in body
    assert html.escape(sql, quote=False) in body or html.escape(sql) in body


def test_hostile_title_and_sql_render_escaped(client_for, project):
    title = "<script>alert('t')</script> \"quoted\" ünïcode"
    sql = 'CREATE TABLE "<script>alert(1)</script>" (id int); -- </pre><script>alert(2)</script>'
    post_new(client_for("engineer"), sql, title=title)
    req = MigrationRequest.objects.get()
    for who in ("viewer", "admin"):
        shown = page(client_for(who), req)
        assert "<script>alert" not in shown
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown and "&lt;/pre&gt;" in shown
        assert "ünïcode" in shown
    listing = client_for("viewer").get("/projects/shop/migrations/").content.decode()
    assert "<script>alert" not in listing and "&lt;script&gt;alert(&#x27;t&#x27;)" in listing


def test_empty_or_comment_only_sql_is_refused(client_for, project):
    for sql in ("   ", "-- only a comment\n"):
        response = post_new(client_for("engineer"), sql)
        assert response.status_code == 400
        assert (
            "The migration has no statements." in response.content.decode()
            or "This field is required" in response.content.decode()
        )
    assert not MigrationRequest.objects.exists()
