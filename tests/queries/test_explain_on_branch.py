"""EXPLAIN ANALYZE on a temporary Neon branch, against the Neon API stand-in (real local databases).

The stand-in's compute proxy sees every connection, so "production was not touched" means no
connection attempt reached the production compute; its table statistics did not move either.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.models import AuditEvent, NeonCompute, QueryText, TaskRun
from dashboard.neon.sync import sync_project
from dashboard.queries import branch_explain
from dashboard.queries.tasks import explain_on_branch
from dashboard.taskruns import lifecycle
from tests.conftest import wait_until
from tests.neon.conftest import STANDIN_PROJECT
from tests.support import pg

pytestmark = pytest.mark.django_db

SLUG = "pagila-neon"
QID = 4242
TEXT = "SELECT title FROM film WHERE title = $1"
BRANCH_URL = f"/projects/{SLUG}/queries/{QID}/explain/branch/"
DETAIL_URL = f"/projects/{SLUG}/queries/{QID}/"


@pytest.fixture
def synced(neon_project):
    sync_project(neon_project)
    return neon_project


@pytest.fixture
def statement(synced):
    return QueryText.objects.create(project=synced, queryid=QID, text=TEXT, fingerprint="f" * 40)


def start(client, **data) -> TaskRun:
    response = client.post(BRANCH_URL, {"param1": "ACE GOLDFINGER", **data})
    assert response.status_code == 302, response.content.decode()[-3000:]
    return TaskRun.objects.filter(kind=branch_explain.KIND).latest("created_at")


def run_here(run: TaskRun) -> TaskRun:
    """Run the queued task in this process, exactly as the worker would (claim, then the body)."""
    explain_on_branch(str(run.pk))
    run.refresh_from_db()
    return run


def branch_names(neon_standin) -> list[str]:
    return sorted(b["name"] for b in neon_standin.standin.branches_of(STANDIN_PROJECT))


def production_endpoint(project) -> str:
    return NeonCompute.objects.get(project=project, branch__is_default=True).endpoint_id


def production_film_scans(standin_db) -> int:
    """Scans of production's film table (read over an admin connection, not through the compute proxy)."""
    with pg.admin_connect(standin_db) as conn:
        row = conn.execute(
            "SELECT seq_scan + coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = 'film'"
        ).fetchone()
    return row[0]


def test_the_plan_comes_from_a_temporary_branch_that_is_deleted_and_production_is_untouched(
    client_for, statement, neon_standin, standin_db, caplog
):
    standin = neon_standin.standin
    main = production_endpoint(statement.project)
    standin.connection_attempts.clear()
    scans_before = production_film_scans(standin_db)
    caplog.set_level("DEBUG")

    run = run_here(start(client_for("engineer"), param1="ACE GOLDFINGER"))

    assert run.status == "succeeded", run.error
    result = run.result
    assert "Seq Scan on film" in result["plan"] and "actual time=" in result["plan"]
    assert "Buffers:" in result["plan"] or "Planning" in result["plan"]
    assert result["branch_name"].startswith("neon-ops-explain-") and result["branch_id"].startswith("br-")
    # The branch existed for the run, its own compute was connected to, and it is gone.
    assert standin.calls("POST", f"/projects/{STANDIN_PROJECT}/branches") == 1
    assert standin.calls("DELETE", f"/branches/{result['branch_id']}") == 1
    assert standin.attempts_on(result["endpoint_id"]) >= 1
    assert result["branch_deleted"] and branch_names(neon_standin) == ["main"]
    # Production's compute saw no connection, its table no scan.
    assert standin.attempts_on(main) == 0
    assert production_film_scans(standin_db) == scans_before
    # Audited when asked and when done; the typed value is in neither the audit log nor the logs.
    events = list(AuditEvent.objects.order_by("created_at").values_list("action", "outcome", "detail"))
    assert [(a, o) for a, o, _ in events] == [
        ("query.explain_on_branch.requested", "success"),
        ("query.explain_on_branch", "success"),
    ]
    assert "ACE GOLDFINGER" not in str(events) and "ACE GOLDFINGER" not in caplog.text
    assert standin.uri_for_database(standin_db).split("@")[0] not in caplog.text

    poll = client_for("engineer").get(BRANCH_URL, HTTP_HX_REQUEST="true")
    body = poll.content.decode()
    assert poll.status_code == 286  # the run is over: stop polling
    assert "EXPLAIN ANALYZE on temporary branch" in body and "Seq Scan on film" in body
    assert result["branch_name"] in client_for("engineer").get(DETAIL_URL).content.decode()


def test_analyze_on_production_needs_an_explicit_tick_on_a_neon_project(
    client_for, statement, neon_standin, standin_db
):
    """The control for the test above: ANALYZE on production does reach production's compute and table."""
    main = production_endpoint(statement.project)
    neon_standin.standin.connection_attempts.clear()
    url = f"/projects/{SLUG}/queries/{QID}/explain/"
    engineer = client_for("engineer")
    detail = engineer.get(DETAIL_URL).content.decode()
    assert "EXPLAIN ANALYZE on a temporary branch" in detail and 'name="confirm_production"' in detail

    refused = engineer.post(url, {"mode": "analyze", "param1": "x"}, HTTP_HX_REQUEST="true").content.decode()
    assert "runs on a temporary branch by default" in refused and "actual time=" not in refused
    assert neon_standin.standin.attempts_on(main) == 0

    scans_before = production_film_scans(standin_db)
    body = engineer.post(url, {"mode": "analyze", "param1": "x", "confirm_production": "1"},
                         HTTP_HX_REQUEST="true").content.decode()  # fmt: skip
    assert "actual time=" in body
    assert neon_standin.standin.attempts_on(main) >= 1
    wait_until(lambda: production_film_scans(standin_db) > scans_before, timeout=10)


def test_the_branch_is_deleted_after_a_refusal_on_the_branch(client_for, synced, neon_standin, standin_db):
    """A user function that takes a lock passes the name check, so the worker gets as far as the branch,
    where the catalog shows it volatile: refused there, as on production, and the branch is deleted."""
    with pg.admin_connect(standin_db) as conn:
        conn.execute(
            "CREATE FUNCTION take_job_lock(int) RETURNS boolean LANGUAGE plpgsql VOLATILE "
            "AS $$ BEGIN PERFORM pg_advisory_lock($1); RETURN true; END $$"
        )
    QueryText.objects.create(project=synced, queryid=QID, text="SELECT take_job_lock($1)")

    run = run_here(start(client_for("engineer"), param1="7"))

    assert run.status == "failed" and "take_job_lock" in run.error and "volatile" in run.error
    assert run.result["branch_id"] and run.result["branch_deleted"]
    assert branch_names(neon_standin) == ["main"]
    assert AuditEvent.objects.filter(action="query.explain_on_branch", outcome="failure").exists()
    body = client_for("engineer").get(BRANCH_URL, HTTP_HX_REQUEST="true").content.decode()
    assert "failed" in body and "volatile" in body


def test_the_branch_is_deleted_after_a_statement_timeout(client_for, synced, neon_standin, settings):
    settings.QUERIES_EXPLAIN_ANALYZE_TIMEOUT_MS = 200
    QueryText.objects.create(
        project=synced,
        queryid=QID,
        text="SELECT count(*) FROM generate_series(1, $1::int) a, generate_series(1, 1000) b",
    )
    run = run_here(start(client_for("engineer"), param1="100000000"))
    assert run.status == "failed" and "statement timeout" in run.error
    assert run.result["branch_deleted"] and branch_names(neon_standin) == ["main"]


def test_a_cancel_while_the_branch_is_made_deletes_it_without_explaining(
    client_for, statement, neon_standin, monkeypatch
):
    run = start(client_for("engineer"))
    original = lifecycle.heartbeat

    def cancel_once_the_branch_exists(task_run, progress=""):
        """A person presses Cancel while the page says the branch is being made."""
        original(task_run, progress)
        if progress.startswith("Waiting for temporary branch"):
            response = client_for("engineer").post(f"{BRANCH_URL}cancel/")
            assert response.status_code == 302

    monkeypatch.setattr(branch_explain.lifecycle, "heartbeat", cancel_once_the_branch_exists)
    run = run_here(run)

    assert run.status == "failed" and run.error == branch_explain.CANCELLED_MESSAGE
    assert run.result["branch_id"] and run.result["branch_deleted"]
    assert neon_standin.standin.attempts_on(run.result["endpoint_id"]) == 0  # never explained
    assert branch_names(neon_standin) == ["main"]
    assert AuditEvent.objects.filter(action="query.explain_on_branch.cancel").exists()


def test_a_branch_neon_would_not_delete_is_deleted_by_the_reconciler(client_for, statement, neon_standin):
    neon_standin.standin.fail_next(500, path_contains="/branches/br-", method="DELETE")
    run = run_here(start(client_for("engineer")))
    assert run.status == "succeeded"
    assert not run.result["branch_deleted"] and "injected 500" in run.result["cleanup_error"]
    assert run.result["branch_name"] in branch_names(neon_standin)
    page = client_for("engineer").get(BRANCH_URL, HTTP_HX_REQUEST="true").content.decode()
    assert "is not deleted yet" in page

    lifecycle.reconcile_stale()

    run.refresh_from_db()
    assert run.result["branch_deleted"]  # Neon accepted the deletion; the branch goes soon after
    wait_until(lambda: branch_names(neon_standin) == ["main"], timeout=10)
    assert AuditEvent.objects.filter(action="query.explain_on_branch.cleanup").exists()


def test_an_idle_production_compute_is_not_woken_and_the_branch_waits_for_consent(
    client_for, neon_project, statement, neon_standin, idle_default_compute, settings
):
    settings.NEON_STATE_MAX_AGE_SECONDS = 0  # ask the Neon API, as after a long pause
    standin = neon_standin.standin
    hostile = '"><script>alert(1)</script>'
    engineer = client_for("engineer")
    creates_before = standin.calls("POST", f"/projects/{STANDIN_PROJECT}/branches")  # the fixture's "dev"

    refused = engineer.post(BRANCH_URL, {"param1": hostile}, HTTP_HX_REQUEST="true")
    body = refused.content.decode()
    assert refused.status_code == 200  # htmx swaps only 2xx: the partial carries the refusal
    assert (
        "Neon reports the compute of branch main idle" in body and "Start a temporary branch anyway" in body
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert(1)" not in body
    assert engineer.post(BRANCH_URL, {"param1": "x"}).status_code == 409
    assert standin.calls("POST", f"/projects/{STANDIN_PROJECT}/branches") == creates_before
    assert not TaskRun.objects.filter(kind=branch_explain.KIND).exists()

    run = run_here(start(engineer, param1="ACADEMY DINOSAUR", wake="1"))

    assert run.status == "succeeded", run.error
    assert "actual time=" in run.result["plan"]
    assert standin.attempts_on(idle_default_compute) == 0
    assert standin.state["endpoints"][idle_default_compute]["current_state"] == "idle"
    assert branch_names(neon_standin) == ["dev", "main"]


def test_hostile_values_in_the_plan_are_escaped(client_for, statement):
    run = run_here(start(client_for("engineer"), param1='<script>alert("x")</script>'))
    assert run.status == "succeeded", run.error
    assert '<script>alert("x")</script>' in run.result["plan"]
    body = client_for("engineer").get(BRANCH_URL, HTTP_HX_REQUEST="true").content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body and "<script>alert" not in body


def test_a_second_run_for_the_same_statement_is_refused_while_one_runs(client_for, statement, neon_standin):
    start(client_for("engineer"))
    second = client_for("admin").post(BRANCH_URL, {"param1": "x"}, HTTP_HX_REQUEST="true")
    assert "already running" in second.content.decode()
    assert client_for("admin").post(BRANCH_URL, {"param1": "x"}).status_code == 409
    assert TaskRun.objects.filter(kind=branch_explain.KIND).count() == 1
    assert AuditEvent.objects.filter(action="query.explain_on_branch", outcome="denied").count() == 2
    assert neon_standin.standin.calls("POST", f"/projects/{STANDIN_PROJECT}/branches") == 0


def test_a_viewer_neither_sees_nor_starts_it(client_for, statement, neon_standin):
    viewer = client_for("viewer")
    assert "temporary branch" not in viewer.get(DETAIL_URL).content.decode()
    assert viewer.post(BRANCH_URL, {"param1": "x"}).status_code == 403
    assert viewer.get(BRANCH_URL, HTTP_HX_REQUEST="true").status_code == 403
    assert not TaskRun.objects.filter(kind=branch_explain.KIND).exists()
    assert AuditEvent.objects.get(action="query.explain_on_branch").outcome == "denied"


@pytest.mark.parametrize("statement_text,message", [
    ("SELECT title FROM film WHERE title = $1 AND film_id = $2", "2 parameter(s); 1 value(s) given"),
    ("DELETE FROM film WHERE title = $1", "only allowed for a plain SELECT"),
])  # fmt: skip
def test_a_statement_that_cannot_be_analyzed_is_refused_before_any_branch(
    client_for, synced, neon_standin, statement_text, message
):
    QueryText.objects.create(project=synced, queryid=QID, text=statement_text)
    response = client_for("engineer").post(BRANCH_URL, {"param1": "x"})
    assert response.status_code == 400 and message in response.content.decode()
    assert neon_standin.standin.calls("POST", f"/projects/{STANDIN_PROJECT}/branches") == 0


def test_a_project_without_neon_api_access_is_refused_clearly(client_for, project, target_db):
    QueryText.objects.create(project=project, queryid=QID, text="SELECT 1 WHERE $1::int > 0")
    engineer = client_for("engineer")
    detail = engineer.get(f"/projects/shop/queries/{QID}/").content.decode()
    assert "temporary branch" not in detail and ">EXPLAIN ANALYZE</button>" in detail
    response = engineer.post(f"/projects/shop/queries/{QID}/explain/branch/", {"param1": "1"})
    assert (
        response.status_code == 400
        and "Neon API access: a Neon project id and API key" in response.content.decode()
    )
    assert not TaskRun.objects.filter(kind=branch_explain.KIND).exists()


@pytest.mark.worker
def test_on_a_real_worker_the_page_polls_until_the_plan_is_shown(
    neon_worker, client_for, statement, neon_standin
):
    engineer = client_for("engineer")
    started = engineer.post(BRANCH_URL, {"param1": "ACE GOLDFINGER"}, HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 1s"' in started.content.decode()
    run = TaskRun.objects.get(kind=branch_explain.KIND)
    wait_until(lambda: TaskRun.objects.get(pk=run.pk).is_finished, timeout=60)
    poll = engineer.get(BRANCH_URL, HTTP_HX_REQUEST="true")
    assert poll.status_code == 286, TaskRun.objects.get(pk=run.pk).error
    assert "Seq Scan on film" in poll.content.decode()
    assert branch_names(neon_standin) == ["main"]


@pytest.mark.worker
def test_a_lost_run_has_its_branch_deleted_by_the_reconciler(neon_worker, client_for, synced, neon_standin):
    QueryText.objects.create(
        project=synced,
        queryid=QID,
        text="SELECT count(*) FROM generate_series(1, $1::int) a, generate_series(1, 100000) b",
    )
    client_for("engineer").post(BRANCH_URL, {"param1": "1000000000"})
    run = TaskRun.objects.get(kind=branch_explain.KIND)
    wait_until(lambda: TaskRun.objects.get(pk=run.pk).progress.startswith("Running EXPLAIN"), timeout=60)
    neon_worker.kill()  # the worker dies mid-statement: nobody deletes the branch
    neon_worker.wait(timeout=10)
    run.refresh_from_db()
    assert run.status == "running" and run.result["branch_name"] in branch_names(neon_standin)

    TaskRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    lifecycle.reconcile_stale()

    run.refresh_from_db()
    assert run.status == "lost" and run.result["branch_deleted"]
    wait_until(lambda: branch_names(neon_standin) == ["main"], timeout=10)
    outcomes = dict(AuditEvent.objects.filter(action__startswith="query.explain_on_branch").values_list(
        "action", "outcome"))  # fmt: skip
    assert outcomes["query.explain_on_branch"] == "failure"
    assert "query.explain_on_branch.cleanup" in outcomes


def test_with_the_task_queue_down_the_page_says_so_at_once(
    client_for, statement, neon_standin, transactional_db
):
    from tests.support.celery_worker import broker_pointed_at_closed_port

    with broker_pointed_at_closed_port():
        response = client_for("engineer").post(BRANCH_URL, {"param1": "x"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "task queue is unreachable" in body and 'hx-trigger="every 1s"' not in body
    run = TaskRun.objects.get(kind=branch_explain.KIND)
    assert run.status == "failed"
    outcomes = list(AuditEvent.objects.order_by("created_at").values_list("action", "outcome"))
    assert outcomes == [
        ("query.explain_on_branch.requested", "success"),
        ("query.explain_on_branch", "failure"),
    ]
    assert neon_standin.standin.calls("POST", f"/projects/{STANDIN_PROJECT}/branches") == 0
