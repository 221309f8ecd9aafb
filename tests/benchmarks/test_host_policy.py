"""The host policy reaches the benchmark's own processes: they connect to exactly the checked address.

`rebind.invalid` cannot be resolved by libpq (the `.invalid` domain never resolves); the
policy's resolver, standing in for a DNS answer, says 127.0.0.1. A run works only because
the engine's worker processes connect to the address the dashboard checked (hostaddr),
never resolving the name themselves. When the name points somewhere the policy refuses, the
run is refused before anything connects.
"""

import ipaddress

import pytest

from dashboard.benchmarks.engine import ConnectionSettings, RunConfig, RunError, connector, run
from dashboard.benchmarks.engine.script import parse_script
from dashboard.models import BenchmarkRun, Project
from dashboard.targets import policy as host_policy
from dashboard.targets.connect import TargetError
from dashboard.targets.policy import HostPolicy
from tests.benchmarks.conftest import run_here
from tests.support import pg

pytestmark = pytest.mark.django_db

NAME = "rebind.invalid"
RUN = {"workload": "select-only", "clients": "2", "duration_seconds": "1", "connection": "direct",
       "protocol": "prepared", "scale": "1"}  # fmt: skip


@pytest.fixture
def dns(monkeypatch):
    """What the policy's resolver answers for NAME (other names resolve as usual)."""
    answers = {NAME: [ipaddress.ip_address("127.0.0.1")]}
    real_resolve = host_policy.resolve
    monkeypatch.setattr(host_policy, "resolve", lambda host: answers.get(host) or real_resolve(host))
    return answers


def url_with_name(dbname: str) -> str:
    return pg.url_for(dbname).replace(f"@{pg.server()['host']}:", f"@{NAME}:")


def start(client) -> BenchmarkRun:
    response = client.post("/projects/shop/benchmarks/new/", RUN)
    assert response.status_code == 302, response.content.decode()[:2000]
    return BenchmarkRun.objects.latest("pk")


def test_engine_workers_connect_to_the_given_address_without_resolving_the_name(target_db):
    select = (parse_script("SELECT 1;", name="one"),)
    pinned = ConnectionSettings(url_with_name(target_db), hostaddr=("127.0.0.1",))
    result = run(RunConfig(pinned, select, clients=2, processes=2, duration_seconds=0.5, reconnect=True))
    assert result.transactions > 0 and result.failed_transactions == 0  # reconnections pinned too
    with pytest.raises(RunError, match=NAME):  # the same URL, left to libpq's own resolver
        run(RunConfig(ConnectionSettings(url_with_name(target_db)), select, duration_seconds=0.5))


def test_a_run_goes_to_the_address_the_policy_checked_and_a_refused_one_is_never_connected(
    client_for, team, target_db, dns, settings
):
    Project.objects.create(team=team, name="Shop", slug="shop", pooled_url=url_with_name(target_db))
    client = client_for("engineer")
    done = run_here(start(client))
    assert done.status == "finished", done.error
    assert done.result["transactions"] > 0 and done.result["processes"] == 2

    dns[NAME] = [ipaddress.ip_address("169.254.169.254")]  # the name now answers a metadata service
    settings.TARGET_BLOCK_PRIVATE_NETWORKS = True
    refused = run_here(start(client))
    assert refused.status == "failed" and "private or local network" in refused.error
    assert refused.result == {} and refused.progress == []  # the engine never started


def test_cold_start_connections_are_checked_and_pinned_at_every_connect(target_db, dns):
    settings = ConnectionSettings(url_with_name(target_db))
    with connector(settings, retries=0, policy=HostPolicy())() as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == target_db
    dns[NAME] = [ipaddress.ip_address("169.254.169.254")]
    with pytest.raises(TargetError, match="private or local network"):
        connector(settings, retries=0, policy=HostPolicy(block_private_networks=True))()
