"""Cold starts against the Neon API stand-in: its compute really refuses connections while idle."""

import pytest

from dashboard.benchmarks.engine.coldstart import (
    ColdStartError,
    ColdStartResult,
    connector,
    measure_cold_starts,
)
from dashboard.benchmarks.engine.connection import ConnectionSettings
from dashboard.neon.client import NeonClient
from tests.neon.conftest import STANDIN_KEY, STANDIN_PROJECT, neon_standin, standin_db  # noqa: F401 - fixtures
from tests.support import pg


class StandinCompute:
    """The Compute protocol over the Neon API (here the stand-in): suspend and the endpoint's state."""

    def __init__(self, client: NeonClient, endpoint_id: str):
        self.client = client
        self.endpoint_id = endpoint_id
        self.suspends = 0

    def suspend(self) -> None:
        answer = self.client.suspend_endpoint(STANDIN_PROJECT, self.endpoint_id)
        self.client.wait_for_operations(STANDIN_PROJECT, answer["operations"], poll_seconds=0.02)
        self.suspends += 1

    def is_idle(self) -> bool:
        return self.client.get_endpoint(STANDIN_PROJECT, self.endpoint_id)["current_state"] == "idle"

    def wake_then(self, connect):
        """Neon's proxy wakes a compute when a client connects; the stand-in's needs the start call."""

        def connect_waking():
            answer = self.client.start_endpoint(STANDIN_PROJECT, self.endpoint_id)
            self.client.wait_for_operations(STANDIN_PROJECT, answer["operations"], poll_seconds=0.02)
            return connect()

        return connect_waking


@pytest.fixture
def compute(neon_standin):  # noqa: F811 - the fixture imported above
    client = NeonClient(STANDIN_KEY, base_url=neon_standin.base_url)
    (endpoint,) = client.list_endpoints(STANDIN_PROJECT)
    yield StandinCompute(client, endpoint["id"])
    client.close()


def test_cold_starts_suspend_wait_for_idle_and_time_the_first_connect_and_query(
    neon_standin,  # noqa: F811
    standin_db,  # noqa: F811
    compute,
):
    url = neon_standin.standin.uri_for_database(standin_db)
    neon_standin.standin.cold_start_failures = 1  # the first connection after a wake fails, as on Neon
    settings = ConnectionSettings(url, connect_timeout=5)
    result = measure_cold_starts(
        compute,
        compute.wake_then(connector(settings)),
        repeats=3,
        poll_seconds=0.05,
        query="SELECT count(*) FROM film",
        warmup_curve_seconds=1,
    )
    assert compute.suspends == 3 and len(result.samples) == 3
    assert neon_standin.standin.attempts_on(compute.endpoint_id, "idle") == 0  # never tried while idle
    for sample in result.samples:
        assert sample.connect_ms > 0 and sample.first_query_ms > 0
        assert sample.total_ms == pytest.approx(sample.connect_ms + sample.first_query_ms, abs=0.01)
    assert result.connect.count == 3 and result.connect.max_ms >= result.connect.p50_ms
    assert result.warmup_curve and result.warmup_curve[0].queries > 10
    assert ColdStartResult.from_dict(result.to_dict()) == result
    with pg.admin_connect() as conn:
        apps = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (standin_db,)
        ).fetchone()
    assert apps[0] == 0  # every connection was closed


def test_a_compute_that_never_reports_idle_stops_the_measurement_with_a_message(
    neon_standin,  # noqa: F811
    standin_db,  # noqa: F811
):
    class NeverIdle:
        def suspend(self):
            pass

        def is_idle(self):
            return False

    url = neon_standin.standin.uri_for_database(standin_db)
    with pytest.raises(ColdStartError, match="did not report idle within 0 s"):
        measure_cold_starts(
            NeverIdle(), connector(ConnectionSettings(url)), idle_timeout_seconds=0.2, poll_seconds=0.05
        )


def test_repetitions_are_bounded(neon_standin, standin_db):  # noqa: F811
    url = neon_standin.standin.uri_for_database(standin_db)
    with pytest.raises(ColdStartError, match="Repetitions must be from 1 to 50"):
        measure_cold_starts(None, connector(ConnectionSettings(url)), repeats=0)
