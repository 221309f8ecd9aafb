"""The request page's progress poll: while a run is under way it answers the progress partial; its last
answer (286, polling stops) also carries the parts the run's end changed, swapped out of band, so the
per-statement rehearsal rows, the state and the buttons appear without a reload. Without htmx the
progress URL sends the visitor to the full page."""

import pytest

from dashboard.schema.snapshots import capture_snapshot
from dashboard.taskruns import lifecycle as taskruns
from migrations_app.services import rehearse, workflow
from tests.migrations_app.workflow_support import draft
from tests.support import pg

pytestmark = pytest.mark.django_db

SQL = "UPDATE small SET id = id WHERE id < 3;\nALTER TABLE small ADD COLUMN note text;"


def poll(client, req):
    return client.get(f"/projects/shop/migrations/{req.pk}/progress/", HTTP_HX_REQUEST="true")


def oob_section(html: str, element_id: str) -> str:
    marker = f'id="{element_id}" hx-swap-oob="true"'
    assert marker in html, f"no out-of-band #{element_id}"
    return html.split(marker, 1)[1]


@pytest.fixture
def small_table(project, target_db):
    with pg.admin_connect(target_db) as conn:
        conn.execute(
            "CREATE TABLE small (id int PRIMARY KEY); INSERT INTO small SELECT generate_series(1, 10)"
        )
    capture_snapshot(project)


def test_the_last_poll_swaps_in_the_rehearsal_rows_state_and_buttons(client_for, project, users, small_table):
    req = draft(project, users["engineer"], sql=SQL, title="Note")
    client = client_for("admin")
    running = poll(client, req)
    html = running.content.decode()
    assert running.status_code == 200 and "hx-get=" in html and "hx-swap-oob" not in html
    rehearsal = workflow.latest_rehearsal(workflow.current_revision(req))
    rehearse.run_rehearsal(taskruns.claim(str(rehearsal.task_run_id)))

    final = poll(client, req)
    html = final.content.decode()
    assert final.status_code == 286 and "HX-Refresh" not in final.headers
    assert 'id="rehearsal-report"' in html and "hx-get=" not in html.split('id="live"')[1].split(">")[0]
    statements = oob_section(html, "lint")
    first = statements.split('id="statement-1"')[1].split("</article>")[0]
    assert 'class="rehearsed"' in first and "2 rows" in first
    head = oob_section(html, "request-head")
    assert "Awaiting approval" in head.split("</h1>")[0]
    assert "Approve revision 1" in oob_section(html, "approvals")
    assert 'id="apply" hx-swap-oob="true"' in html
    assert "<html" not in html


def test_without_htmx_the_progress_url_leads_to_the_page(client_for, project, users):
    req = draft(project, users["engineer"])
    response = client_for("viewer").get(f"/projects/shop/migrations/{req.pk}/progress/")
    assert response.status_code == 302 and response.url == f"/projects/shop/migrations/{req.pk}/"
