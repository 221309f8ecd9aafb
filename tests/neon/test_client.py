"""The Neon API client against the local stand-in (real HTTP, real databases)."""

import psycopg
import pytest

from dashboard.neon.client import NeonAPIError, NeonClient, OperationsTimeout, RetryPolicy
from tests.conftest import wait_until
from tests.neon.conftest import STANDIN_KEY, STANDIN_PROJECT
from tests.support import pg


@pytest.fixture
def slept():
    return []


@pytest.fixture
def api(neon_standin, slept):
    with NeonClient(
        STANDIN_KEY,
        base_url=neon_standin.base_url,
        timeout=5,
        sleep=slept.append,
        retry=RetryPolicy(attempts=5, base_seconds=0.5),
    ) as c:
        yield c


@pytest.fixture
def real_sleep_client(neon_standin):
    """Polls operations with real sleeps, for calls that wait on the stand-in's background work."""
    with NeonClient(
        STANDIN_KEY,
        base_url=neon_standin.base_url,
        timeout=5,
        retry=RetryPolicy(attempts=6, base_seconds=0.05),
    ) as c:
        yield c


def create_ready_branch(api, name="dev", parent_id=None):
    created = api.create_branch(STANDIN_PROJECT, name=name, parent_id=parent_id)
    api.wait_for_operations(STANDIN_PROJECT, created["operations"], poll_seconds=0.02)
    return created


def branch_uri(api, branch_id, database, *, pooled=True):
    """The connection URI the API gives for a branch (pooled unless asked otherwise)."""
    return api.connection_uri(
        STANDIN_PROJECT, branch_id=branch_id, database_name=database, role_name="postgres", pooled=pooled
    )


def titles(uri):
    with psycopg.connect(uri, connect_timeout=5) as conn:
        return [row[0] for row in conn.execute("SELECT title FROM film ORDER BY film_id")]


def test_project_and_default_branch_are_listed(real_sleep_client):
    project = real_sleep_client.get_project(STANDIN_PROJECT)
    branches = real_sleep_client.list_branches(STANDIN_PROJECT)
    assert project["id"] == STANDIN_PROJECT
    assert [b["name"] for b in branches] == ["main"]
    assert branches[0]["default"] is True
    assert branches[0]["logical_size"] > 0


def test_created_branch_becomes_ready_with_a_copy_of_the_parent_data(real_sleep_client, standin_db):
    created = real_sleep_client.create_branch(STANDIN_PROJECT, name="feature-x")
    assert created["branch"]["current_state"] == "init"
    assert {op["status"] for op in created["operations"]} == {"running"}
    finished = real_sleep_client.wait_for_operations(
        STANDIN_PROJECT, created["operations"], poll_seconds=0.02
    )
    assert {op["status"] for op in finished} == {"finished"}
    branch = real_sleep_client.get_branch(STANDIN_PROJECT, created["branch"]["id"])
    assert branch["current_state"] == "ready"
    uri = branch_uri(real_sleep_client, branch["id"], standin_db)
    assert titles(uri) == ["ACADEMY DINOSAUR", "ACE GOLDFINGER"]
    endpoint = real_sleep_client.get_endpoint(STANDIN_PROJECT, created["endpoints"][0]["id"])
    assert endpoint["current_state"] == "active"


def test_branch_pagination_follows_the_cursor(real_sleep_client):
    create_ready_branch(real_sleep_client, "one")
    create_ready_branch(real_sleep_client, "two")
    names = [b["name"] for b in real_sleep_client.list_branches(STANDIN_PROJECT, limit=1)]
    assert names == ["main", "one", "two"]
    assert real_sleep_client.requests_sent >= 3


def test_project_pagination_follows_the_cursor(neon_standin, real_sleep_client, standin_db):
    neon_standin.standin.add_project("second-project", standin_db)
    ids = [p["id"] for p in real_sleep_client.list_projects(limit=1)]
    assert ids == [STANDIN_PROJECT, "second-project"]


def test_deleted_branch_drops_its_database_and_then_is_not_found(real_sleep_client, standin_db):
    created = create_ready_branch(real_sleep_client, "doomed")
    branch_id = created["branch"]["id"]
    deleted = real_sleep_client.delete_branch(STANDIN_PROJECT, branch_id)
    real_sleep_client.wait_for_operations(STANDIN_PROJECT, deleted["operations"], poll_seconds=0.02)
    with pytest.raises(NeonAPIError) as error:
        real_sleep_client.get_branch(STANDIN_PROJECT, branch_id)
    assert error.value.status == 404
    assert "not found" in error.value.message
    assert error.value.request_id
    with pg.admin_connect() as conn:
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE %s", (standin_db + "__%",))
        assert left.fetchone()[0] == 0


def test_default_branch_cannot_be_deleted(real_sleep_client):
    default = real_sleep_client.list_branches(STANDIN_PROJECT)[0]
    with pytest.raises(NeonAPIError) as error:
        real_sleep_client.delete_branch(STANDIN_PROJECT, default["id"])
    assert error.value.status == 400
    assert "default branch" in error.value.message


def test_restore_recreates_the_branch_from_its_source(real_sleep_client, standin_db):
    created = create_ready_branch(real_sleep_client, "scratch")
    branch_id = created["branch"]["id"]
    uri = branch_uri(real_sleep_client, branch_id, standin_db, pooled=False)
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("DELETE FROM film")
    assert titles(uri) == []
    default_id = real_sleep_client.list_branches(STANDIN_PROJECT)[0]["id"]
    restored = real_sleep_client.restore_branch(STANDIN_PROJECT, branch_id, source_branch_id=default_id)
    real_sleep_client.wait_for_operations(STANDIN_PROJECT, restored["operations"], poll_seconds=0.02)
    assert titles(uri) == ["ACADEMY DINOSAUR", "ACE GOLDFINGER"]


def test_suspended_compute_refuses_connections_until_started(real_sleep_client, standin_db, neon_standin):
    created = create_ready_branch(real_sleep_client, "sleepy")
    endpoint_id = created["endpoints"][0]["id"]
    uri = branch_uri(real_sleep_client, created["branch"]["id"], standin_db)
    session = psycopg.connect(uri, autocommit=True)
    suspended = real_sleep_client.suspend_endpoint(STANDIN_PROJECT, endpoint_id)
    real_sleep_client.wait_for_operations(STANDIN_PROJECT, suspended["operations"], poll_seconds=0.02)
    assert real_sleep_client.get_endpoint(STANDIN_PROJECT, endpoint_id)["current_state"] == "idle"
    with pytest.raises(psycopg.OperationalError):
        session.execute("SELECT 1")  # the open session was terminated
    with pytest.raises(psycopg.OperationalError, match="not currently accepting connections"):
        titles(uri)
    assert neon_standin.standin.attempts_on(endpoint_id, "idle") == 1  # the proxy saw the attempt
    started = real_sleep_client.start_endpoint(STANDIN_PROJECT, endpoint_id)
    real_sleep_client.wait_for_operations(STANDIN_PROJECT, started["operations"], poll_seconds=0.02)
    assert real_sleep_client.get_endpoint(STANDIN_PROJECT, endpoint_id)["current_state"] == "active"
    assert titles(uri) == ["ACADEMY DINOSAUR", "ACE GOLDFINGER"]


def test_compare_schema_returns_a_unified_diff(real_sleep_client, standin_db):
    created = create_ready_branch(real_sleep_client, "schema-change")
    branch_id = created["branch"]["id"]
    uri = branch_uri(real_sleep_client, branch_id, standin_db, pooled=False)
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("ALTER TABLE film ADD COLUMN rating text")
    default_id = real_sleep_client.list_branches(STANDIN_PROJECT)[0]["id"]
    diff = real_sleep_client.compare_schema(
        STANDIN_PROJECT, branch_id, base_branch_id=default_id, db_name=standin_db
    )
    assert diff.startswith(f"--- {default_id}")
    assert "+    rating text" in diff
    assert "Dumped" not in diff


def test_rate_limited_reads_are_retried_with_growing_backoff(api, neon_standin, slept):
    neon_standin.standin.fail_next(429, times=2)
    assert api.get_project(STANDIN_PROJECT)["id"] == STANDIN_PROJECT
    assert len(slept) == 2
    assert 0.25 <= slept[0] < 0.75
    assert 0.5 <= slept[1] < 1.5
    assert neon_standin.standin.calls("GET", f"/projects/{STANDIN_PROJECT}") == 3


def test_locked_writes_are_retried(api, neon_standin, slept):
    neon_standin.standin.fail_next(423, times=1, path_contains="/branches", method="POST")
    created = api.create_branch(STANDIN_PROJECT, name="after-lock")
    assert created["branch"]["name"] == "after-lock"
    assert len(slept) == 1
    assert neon_standin.standin.calls("POST", "/branches") == 2


def test_a_running_operation_locks_the_project_until_it_finishes(real_sleep_client, neon_standin):
    neon_standin.standin.op_seconds = 0.3
    real_sleep_client.create_branch(STANDIN_PROJECT, name="first")
    second = real_sleep_client.create_branch(STANDIN_PROJECT, name="second")  # 423 first, retried
    assert second["branch"]["name"] == "second"
    statuses = [s for m, p, s in neon_standin.standin.request_log if m == "POST"]
    assert 423 in statuses and statuses[-1] == 201


def test_server_errors_on_writes_are_not_retried(api, neon_standin, slept):
    neon_standin.standin.fail_next(503, times=1, method="POST")
    with pytest.raises(NeonAPIError) as error:
        api.create_branch(STANDIN_PROJECT, name="never")
    assert error.value.status == 503
    assert slept == []
    assert [b["name"] for b in api.list_branches(STANDIN_PROJECT)] == ["main"]


def test_server_errors_on_reads_are_retried(api, neon_standin, slept):
    neon_standin.standin.fail_next(502, times=1, method="GET")
    assert api.list_endpoints(STANDIN_PROJECT)[0]["current_state"] == "active"
    assert len(slept) == 1


def test_retries_stop_after_the_last_attempt(api, neon_standin, slept):
    neon_standin.standin.fail_next(429, times=10)
    with pytest.raises(NeonAPIError) as error:
        api.get_project(STANDIN_PROJECT)
    assert error.value.status == 429
    assert len(slept) == 4
    assert neon_standin.standin.calls("GET") == 5


def test_slow_api_times_out_with_a_clear_error(neon_standin):
    neon_standin.standin.slow(1.0)
    with NeonClient(
        STANDIN_KEY,
        base_url=neon_standin.base_url,
        timeout=0.2,
        sleep=lambda s: None,
        retry=RetryPolicy(attempts=2),
    ) as api:
        with pytest.raises(NeonAPIError) as error:
            api.get_project(STANDIN_PROJECT)
    assert error.value.status is None
    assert "Could not reach the Neon API" in error.value.message


def test_wrong_api_key_is_refused_without_retry(neon_standin):
    slept = []
    with NeonClient("wrong-key", base_url=neon_standin.base_url, sleep=slept.append) as api:
        with pytest.raises(NeonAPIError) as error:
            api.list_branches(STANDIN_PROJECT)
    assert error.value.status == 401
    assert slept == []
    assert "wrong-key" not in str(error.value)


def test_waiting_on_operations_gives_up_after_the_timeout(real_sleep_client, neon_standin):
    neon_standin.standin.op_seconds = 1
    created = real_sleep_client.create_branch(STANDIN_PROJECT, name="slow")
    with pytest.raises(OperationsTimeout, match="did not finish"):
        real_sleep_client.wait_for_operations(
            STANDIN_PROJECT, created["operations"], timeout=0.3, poll_seconds=0.05
        )


def test_waiting_reports_progress_until_all_operations_finish(real_sleep_client):
    created = real_sleep_client.create_branch(STANDIN_PROJECT, name="progress")
    seen = []
    real_sleep_client.wait_for_operations(
        STANDIN_PROJECT,
        created["operations"],
        poll_seconds=0.02,
        on_progress=lambda ops: seen.append([op["status"] for op in ops]),
    )
    assert seen[0] == ["running", "running"]
    assert seen[-1] == ["finished", "finished"]


def test_a_started_compute_answers_like_neon_during_its_cold_start(
    real_sleep_client, neon_standin, standin_db
):
    from dashboard.targets.connect import TargetSettings, connect

    neon_standin.standin.cold_start_failures = 2
    created = create_ready_branch(real_sleep_client, "cold")
    endpoint_id = created["endpoints"][0]["id"]
    uri = branch_uri(real_sleep_client, created["branch"]["id"], standin_db)
    for verb in ("suspend", "start"):
        answer = getattr(real_sleep_client, f"{verb}_endpoint")(STANDIN_PROJECT, endpoint_id)
        real_sleep_client.wait_for_operations(STANDIN_PROJECT, answer["operations"], poll_seconds=0.02)
    with pytest.raises(psycopg.OperationalError, match="Couldn't connect to compute node"):
        titles(uri)
    connected = connect(uri, TargetSettings(retries=3, retry_base_seconds=0.01))
    connected.conn.close()
    assert connected.attempts == 2
    assert neon_standin.standin.attempts_on(endpoint_id, "idle") == 0


def test_errors_carry_status_code_message_and_request_id(api, neon_standin):
    neon_standin.standin.fail_next(409, code="BRANCHES_LIMIT_EXCEEDED", method="POST")
    with pytest.raises(NeonAPIError) as error:
        api.create_branch(STANDIN_PROJECT, name="over-limit")
    assert error.value.status == 409
    assert error.value.code == "BRANCHES_LIMIT_EXCEEDED"
    assert error.value.message == "injected 409 from the stand-in"
    assert len(error.value.request_id) == 36


def test_fault_injection_over_http_makes_the_stand_in_slow_then_fail(neon_standin):
    import httpx

    control = f"http://127.0.0.1:{neon_standin.port}/_standin/faults"
    headers = {"Authorization": f"Bearer {STANDIN_KEY}"}
    assert httpx.post(control, json={"status": 423, "times": 1}, headers=headers).status_code == 200
    slept = []
    with NeonClient(STANDIN_KEY, base_url=neon_standin.base_url, sleep=slept.append) as client:
        assert client.get_project(STANDIN_PROJECT)["id"] == STANDIN_PROJECT
    assert len(slept) == 1
    assert httpx.post(control, json={"status": 423}).status_code == 401  # the control needs the key too


def test_schema_only_branch_has_the_tables_but_no_rows(real_sleep_client, standin_db):
    created = real_sleep_client.create_branch(STANDIN_PROJECT, name="empty", init_source="schema-only")
    real_sleep_client.wait_for_operations(STANDIN_PROJECT, created["operations"], poll_seconds=0.02)
    uri = branch_uri(real_sleep_client, created["branch"]["id"], standin_db)
    assert titles(uri) == []


def test_malformed_json_gets_a_clear_400(neon_standin):
    import httpx

    response = httpx.post(
        f"{neon_standin.base_url}projects/{STANDIN_PROJECT}/branches",
        content=b"{not json",
        headers={"Authorization": f"Bearer {STANDIN_KEY}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["message"] == "request body is not valid JSON"
    assert response.json()["request_id"]


def test_a_read_that_times_out_is_retried_but_a_write_is_not(neon_standin):
    slept = []
    with NeonClient(STANDIN_KEY, base_url=neon_standin.base_url, timeout=0.3, sleep=slept.append) as client:
        neon_standin.standin.delay_next(1.0, method="GET")
        assert client.get_project(STANDIN_PROJECT)["id"] == STANDIN_PROJECT
        assert len(slept) == 1
        neon_standin.standin.delay_next(1.0, method="POST")
        with pytest.raises(NeonAPIError, match="Could not reach"):
            client.create_branch(STANDIN_PROJECT, name="maybe-created")
        assert len(slept) == 1
    assert neon_standin.standin.calls("POST", "/branches") <= 1


def test_a_failed_operation_is_polled_until_the_timeout(real_sleep_client, neon_standin, standin_db):
    created = create_ready_branch(real_sleep_client, "orphan-parent")
    parent_db = neon_standin.standin.state["branches"][created["branch"]["id"]]["standin_database"]
    pg.drop_database(parent_db)  # the copy will fail
    child = real_sleep_client.create_branch(STANDIN_PROJECT, name="child", parent_id=created["branch"]["id"])
    with pytest.raises(OperationsTimeout, match="create_branch: failed"):
        real_sleep_client.wait_for_operations(
            STANDIN_PROJECT, child["operations"], timeout=0.5, poll_seconds=0.05
        )


def test_idle_computes_are_suspended_after_their_timeout(real_sleep_client, neon_standin, standin_db):
    standin = neon_standin.standin
    created = create_ready_branch(real_sleep_client, "quiet")
    endpoint = standin.state["endpoints"][created["endpoints"][0]["id"]]
    endpoint["suspend_timeout_seconds"] = 1
    endpoint["last_active"] = "2020-01-01T00:00:00Z"
    uri = branch_uri(real_sleep_client, created["branch"]["id"], standin_db)
    with psycopg.connect(uri) as busy:
        assert standin.suspend_inactive() == []  # a session keeps it active
        busy.execute("SELECT 1")
    assert endpoint["last_active"] != "2020-01-01T00:00:00Z"  # the session counted as activity
    endpoint["last_active"] = "2020-01-01T00:00:00Z"
    assert wait_until(lambda: standin.suspend_inactive() == [endpoint["id"]], timeout=5)
    assert real_sleep_client.get_endpoint(STANDIN_PROJECT, endpoint["id"])["current_state"] == "idle"
    with pytest.raises(psycopg.OperationalError):
        titles(uri)


def test_restart_ends_sessions_and_keeps_the_compute_active(real_sleep_client, standin_db):
    created = create_ready_branch(real_sleep_client, "restarted")
    endpoint_id = created["endpoints"][0]["id"]
    uri = branch_uri(real_sleep_client, created["branch"]["id"], standin_db)
    session = psycopg.connect(uri, autocommit=True)
    answer = real_sleep_client.restart_endpoint(STANDIN_PROJECT, endpoint_id)
    real_sleep_client.wait_for_operations(STANDIN_PROJECT, answer["operations"], poll_seconds=0.02)
    with pytest.raises(psycopg.OperationalError):
        session.execute("SELECT 1")
    assert real_sleep_client.get_endpoint(STANDIN_PROJECT, endpoint_id)["current_state"] == "active"
    assert titles(uri) == ["ACADEMY DINOSAUR", "ACE GOLDFINGER"]


def test_branch_schema_is_the_schema_as_sql(real_sleep_client, standin_db):
    default_id = real_sleep_client.list_branches(STANDIN_PROJECT)[0]["id"]
    schema = real_sleep_client.branch_schema(STANDIN_PROJECT, default_id, db_name=standin_db)
    assert "CREATE TABLE public.film" in schema
    assert "ACADEMY DINOSAUR" not in schema


def test_restore_can_keep_the_old_state_under_a_new_name(real_sleep_client, standin_db):
    created = create_ready_branch(real_sleep_client, "work")
    branch_id = created["branch"]["id"]
    uri = branch_uri(real_sleep_client, branch_id, standin_db, pooled=False)
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("INSERT INTO film VALUES (3, 'KEEP ME')")
    default_id = real_sleep_client.list_branches(STANDIN_PROJECT)[0]["id"]
    restored = real_sleep_client.restore_branch(
        STANDIN_PROJECT, branch_id, source_branch_id=default_id, preserve_under_name="work-before-reset"
    )
    real_sleep_client.wait_for_operations(STANDIN_PROJECT, restored["operations"], poll_seconds=0.02)
    assert titles(uri) == ["ACADEMY DINOSAUR", "ACE GOLDFINGER"]
    backup = next(
        b for b in real_sleep_client.list_branches(STANDIN_PROJECT) if b["name"] == "work-before-reset"
    )
    backup_uri = branch_uri(real_sleep_client, backup["id"], standin_db, pooled=False)
    assert "KEEP ME" in titles(backup_uri)


def test_waiting_on_operations_backs_off_to_spare_the_rate_limit(neon_standin):
    """Polls start at 0.25 s and double up to 5 s, so a slow operation costs a handful of calls."""
    import time

    # Long enough for five polls even when each request is slow on a busy machine.
    neon_standin.standin.op_seconds = 1.5
    slept = []

    def quick_sleep(seconds):  # the pauses asked for are recorded; real time passes 8x faster
        slept.append(seconds)
        time.sleep(seconds / 8)

    with NeonClient(STANDIN_KEY, base_url=neon_standin.base_url, timeout=5, sleep=quick_sleep) as api:
        created = api.create_branch(STANDIN_PROJECT, name="slow-one")
        polls_before = neon_standin.standin.calls("GET", "/operations/")
        api.wait_for_operations(STANDIN_PROJECT, created["operations"])
    assert len(slept) >= 5
    assert slept == [min(0.25 * 2**i, 5.0) for i in range(len(slept))]
    polls = neon_standin.standin.calls("GET", "/operations/") - polls_before
    assert polls == len(slept) * len(created["operations"])
