"""The activity page against real sessions: one the test blocks itself, then cancels and terminates."""

import re
import threading
import time
import uuid

import psycopg
import pytest
from psycopg import sql

from dashboard.models import AuditEvent, QueryText
from tests.conftest import wait_until
from tests.support import pg, tcp_peers

pytestmark = pytest.mark.django_db


class BlockedUpdate:
    """Session A holds a row lock in an open transaction; session B waits for it in a thread."""

    def __init__(self, url: str):
        self.holder = psycopg.connect(url, application_name="test-holder")
        self.holder.execute("UPDATE items SET name = 'held' WHERE id = 1")  # transaction stays open
        self.holder_pid = self.holder.info.backend_pid
        self.waiter = psycopg.connect(url, autocommit=True, application_name="test-waiter")
        self.waiter_pid = self.waiter.info.backend_pid
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._wait, daemon=True)
        self.thread.start()
        self._until_waiting(url)

    def _wait(self) -> None:
        try:
            self.waiter.execute("UPDATE items SET name = '<script>alert(1)</script>' WHERE id = 1")
        except psycopg.Error as exc:
            self.error = exc

    def _until_waiting(self, url: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            wait_until(
                lambda: conn.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'",
                    (self.waiter_pid,),
                ).fetchone(),
                timeout=5,
            )

    def close(self) -> None:
        for conn in (self.holder, self.waiter):
            try:
                conn.cancel()
            except psycopg.Error:
                pass
        self.thread.join(5)
        self.holder.close()
        self.waiter.close()


@pytest.fixture
def blocked(target_url):
    situation = BlockedUpdate(target_url)
    yield situation
    situation.close()


def test_activity_shows_blocked_session_under_its_blocker(client_for, project, blocked):
    body = client_for("viewer").get("/projects/shop/activity/").content.decode()
    tree = body[body.index("Blocking tree") : body.index('id="sessions-table"')]
    assert tree.index(f"<strong>{blocked.holder_pid}</strong>") < tree.index(
        f"<strong>{blocked.waiter_pid}</strong>"
    )
    assert f"blocked by {blocked.holder_pid}" in tree
    assert "idle in transaction" in body and "Lock: transactionid" in body
    assert "1 blocked" in body
    # Viewers see no buttons, and query texts without their literals.
    assert "/cancel/" not in body and "/terminate/" not in body
    assert "UPDATE items SET name = ? WHERE id = ?" in body and "alert(1)" not in body
    # Engineers see the full text, escaped.
    body = client_for("engineer").get("/projects/shop/activity/").content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_htmx_refresh_returns_the_partial(client_for, project, blocked):
    response = client_for("viewer").get("/projects/shop/activity/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and f"{blocked.waiter_pid}" in body


def test_engineer_cancels_the_blocked_query_with_audit(client_for, project, blocked):
    client = client_for("engineer")
    confirm = client.get(f"/projects/shop/activity/{blocked.waiter_pid}/cancel/")
    assert confirm.status_code == 200 and b"Cancel the running query of" in confirm.content
    response = client.post(f"/projects/shop/activity/{blocked.waiter_pid}/cancel/", follow=True)
    assert f"Cancelled the query of {blocked.waiter_pid}" in response.content.decode()
    blocked.thread.join(5)
    assert isinstance(blocked.error, psycopg.errors.QueryCanceled)
    event = AuditEvent.objects.get(action="activity.cancel")
    assert event.outcome == "success" and event.detail["pid"] == blocked.waiter_pid


def test_admin_terminates_the_blocker_and_the_waiter_proceeds(client_for, project, blocked):
    response = client_for("admin").post(
        f"/projects/shop/activity/{blocked.holder_pid}/terminate/", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert f"Terminated the session {blocked.holder_pid}" in response.content.decode()
    blocked.thread.join(5)
    assert blocked.error is None  # the lock went away with the terminated session
    with pytest.raises(psycopg.OperationalError):
        blocked.holder.execute("SELECT 1")
    assert AuditEvent.objects.get(action="activity.terminate").outcome == "success"


def test_signal_for_a_session_of_another_database_fails_and_is_audited(client_for, project, target_url):
    with psycopg.connect(target_url.rsplit("/", 1)[0] + "/postgres") as other:
        pid = other.info.backend_pid
        response = client_for("admin").post(f"/projects/shop/activity/{pid}/terminate/", follow=True)
        assert f"No session {pid} in this database" in response.content.decode()
        other.execute("SELECT 1")  # still alive
    assert AuditEvent.objects.get(action="activity.terminate").outcome == "failure"


def test_unreachable_target_shows_a_message(client_for, project):
    project.pooled_url = "postgresql://postgres:x@127.0.0.1:1/nothing"
    project.save()
    response = client_for("viewer").get("/projects/shop/activity/")
    assert response.status_code == 200
    assert "Connection refused" in response.content.decode()


def test_viewers_see_literals_redacted_and_nobody_sees_a_password(client_for, project, target_url):
    role = f"tmp_role_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(target_url, application_name="test-secret") as secret:
        secret.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
        secret.execute(f"ALTER ROLE {role} PASSWORD 'hunter2-secret'")  # stays open, idle in transaction
        try:
            viewer = client_for("viewer").get("/projects/shop/activity/").content.decode()
            assert f"ALTER ROLE {role} PASSWORD ?" in viewer and "hunter2" not in viewer
            assert "Literals in query texts are hidden" in viewer
            partial = client_for("viewer").get("/projects/shop/activity/", HTTP_HX_REQUEST="true")
            assert "hunter2" not in partial.content.decode()
            engineer = client_for("engineer").get("/projects/shop/activity/").content.decode()
            assert (
                f"ALTER ROLE {role} PASSWORD &#x27;********&#x27;" in engineer and "hunter2" not in engineer
            )
        finally:
            secret.rollback()


def test_messages_render_once_on_the_full_page_and_in_the_htmx_partial(client_for, project):
    client = client_for("engineer")
    full = client.post("/projects/shop/activity/1/cancel/", follow=True).content.decode()
    assert full.count("No session 1 in this database") == 1
    partial = client.post("/projects/shop/activity/1/cancel/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and partial.count("No session 1 in this database") == 1


def test_polling_url_carries_no_wake_flag_and_stops_after_the_time_limit(client_for, project, settings):
    settings.ACTIVITY_POLL_MAX_SECONDS = 600
    client = client_for("engineer")
    page = client.get("/projects/shop/activity/?wake=1").content.decode()
    started = int(re.search(r'hx-get="/projects/shop/activity/\?polling_since=(\d+)"', page).group(1))
    assert 'hx-trigger="every 5s"' in page and "wake" not in page
    assert abs(started - time.time()) < 60
    fresh = client.get(f"/projects/shop/activity/?polling_since={started}", HTTP_HX_REQUEST="true")
    assert fresh.status_code == 200 and "session(s) active" in fresh.content.decode()
    # Past the limit the answer stops polling without connecting (an unreachable URL proves it).
    project.pooled_url = "postgresql://postgres:x@127.0.0.1:1/nothing"
    project.save()
    old = client.get(f"/projects/shop/activity/?polling_since={started - 601}", HTTP_HX_REQUEST="true")
    body = old.content.decode()
    assert old.status_code == 286 and "Live refresh paused after 10 minutes" in body
    assert '<a class="button" href="/projects/shop/activity/">Resume</a>' in body and "refused" not in body


def test_polling_stops_after_a_connection_error_with_a_resume_button(client_for, project):
    project.pooled_url = "postgresql://postgres:x@127.0.0.1:1/nothing"
    project.save()
    client = client_for("viewer")
    page = client.get("/projects/shop/activity/").content.decode()
    assert "Connection refused" in page and 'hx-trigger="every 5s"' not in page
    response = client.get(
        f"/projects/shop/activity/?polling_since={int(time.time())}", HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 286 and "Connection refused" in body
    assert "Live refresh stopped" in body and 'href="/projects/shop/activity/">Resume</a>' in body


@pytest.fixture
def slow_connect_settings(settings):
    """Background jobs may wait long; pages use the interactive settings instead."""
    settings.TARGET_CONNECT_TIMEOUT = 10
    settings.TARGET_CONNECT_RETRIES = 4
    settings.TARGET_RETRY_BASE_SECONDS = 0.05
    settings.TARGET_INTERACTIVE_CONNECT_TIMEOUT = 2
    settings.TARGET_INTERACTIVE_CONNECT_RETRIES = 1
    return settings


def test_page_against_a_silent_server_answers_with_the_interactive_timeout(
    client_for, project, slow_connect_settings
):
    with tcp_peers.serving(tcp_peers.silent) as port:
        project.pooled_url = f"postgresql://postgres:x@127.0.0.1:{port}/db"
        project.save()
        response = client_for("viewer").get("/projects/shop/activity/")
    assert response.status_code == 200
    assert f"Timed out after 2 s connecting to 127.0.0.1:{port}" in response.content.decode()


@pytest.mark.parametrize(
    "who,method,url,data",
    [
        ("viewer", "get", "/projects/shop/activity/", None),
        ("engineer", "post", "/projects/shop/activity/1/cancel/", {}),
        ("admin", "post", "/projects/shop/activity/1/terminate/", {}),
        ("engineer", "post", "/projects/shop/health/refresh/", {}),
        ("viewer", "post", "/projects/shop/queries/4242/explain/", {"mode": "plain", "param1": "1"}),
    ],
)
def test_pages_retry_a_waking_compute_at_most_once(
    client_for, project, slow_connect_settings, who, method, url, data
):
    QueryText.objects.create(project=project, queryid=4242, text="SELECT $1::int + 1")
    proxy = tcp_peers.WakingComputeProxy(upstream_port=pg.server()["port"], failures=100)
    with tcp_peers.serving(proxy) as port:
        project.pooled_url = f"postgresql://postgres:postgres@127.0.0.1:{port}/db"
        project.save()
        client = client_for(who)
        response = client.post(url, data) if method == "post" else client.get(url)
        attempts = proxy.attempts  # of this one request
        if response.status_code == 302:  # the message shows on the page it redirects to
            response = client.get(response["Location"])
    assert "The compute did not wake up in time" in response.content.decode()
    assert 1 <= attempts <= 2  # background settings would try 5 times
