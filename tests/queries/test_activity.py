"""The activity page against real sessions: one the test blocks itself, then cancels and terminates."""

import threading

import psycopg
import pytest

from dashboard.models import AuditEvent
from tests.conftest import wait_until

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
