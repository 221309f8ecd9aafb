"""The target-host policy: one host per URL, checked at registration and again at every connect."""

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from dashboard.connections import target_settings
from dashboard.models import Project, TaskRun
from dashboard.targets import policy as host_policy
from dashboard.targets.connect import TargetError, connect
from dashboard.targets.policy import HostPolicy, OwnServer, check_target_url, own_server_from
from dashboard.targets.urls import InvalidURL
from tests.support import pg

ROOT = Path(__file__).resolve().parents[2]


def register(client, url, name="Shop"):
    return client.post(
        "/projects/new/", {"team": client.team_id, "name": name, "slug": "", "pooled_url": url}
    )


@pytest.fixture
def admin_client(client_for, team):
    client = client_for("admin")
    client.team_id = team.pk
    return client


def own_db_url(host: str, dbname: str | None = None) -> str:
    db = connection.settings_dict
    return f"postgresql://{db['USER']}:x@{host}:{db['PORT']}/{dbname or db['NAME']}"


@pytest.mark.parametrize(
    "url, message",
    [
        ("postgresql://u:p@x.invalid,127.0.0.1:5432/db", "names several hosts"),
        ("postgresql://u:p@localhost:5432/db?hostaddr=127.0.0.1", "parameter 'hostaddr' is not allowed"),
        ("postgresql://u:p@localhost:5432/db?host=10.0.0.1", "parameter 'host' is not allowed"),
        ("postgresql://u:p@localhost:5432/db?host=/var/run/postgresql", "parameter 'host' is not allowed"),
        ("postgresql://u:p@%2Fvar%2Frun%2Fpostgresql/db", "Unix-socket paths are not allowed"),
        ("postgresql://u:p@localhost/db?service=prod", "parameter 'service' is not allowed"),
        (
            "postgresql://u:p@no-such-host.invalid/db",
            "Unknown host 'no-such-host.invalid': the name does not resolve.",
        ),
    ],
)
def test_urls_that_could_reach_another_host_are_refused_and_nothing_is_created(admin_client, url, message):
    response = register(admin_client, url)
    assert response.status_code == 200
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert not Project.objects.exists()
    assert not TaskRun.objects.exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0.0.0.0", "[::1]", "127.0.0.2", "127.1.2.3"])
def test_the_dashboards_own_database_is_refused_on_every_address_its_server_answers_on(admin_client, host):
    response = register(admin_client, own_db_url(host))
    assert "This is the dashboard&#x27;s own database;" in response.content.decode(), host
    assert not Project.objects.exists()


def test_other_databases_of_the_dashboards_server_follow_the_setting(admin_client, settings, target_db):
    settings.TARGET_ALLOW_DASHBOARD_SERVER = False
    response = register(admin_client, pg.url_for(target_db))
    assert "the dashboard&#x27;s own database server" in response.content.decode()
    assert not Project.objects.exists()
    settings.TARGET_ALLOW_DASHBOARD_SERVER = True
    assert register(admin_client, pg.url_for(target_db)).status_code == 302


def test_production_refuses_other_databases_of_the_dashboards_server_by_default():
    from cryptography.fernet import Fernet

    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "0",
        "SECRET_KEY": "x" * 50,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    code = "from config import settings; print(settings.TARGET_ALLOW_DASHBOARD_SERVER)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.stdout.strip() == "False", result.stderr


def test_own_database_reached_over_a_unix_socket_is_still_recognised():
    own = own_server_from("/var/run/postgresql", 5432, "dashboard")
    policy = HostPolicy(own_server=own, allow_own_server=True)
    for host in ("127.0.0.1", "localhost", "0.0.0.0"):
        with pytest.raises(InvalidURL, match="dashboard's own database;"):
            check_target_url(f"postgresql://u:p@{host}:5432/dashboard", policy)
    # Another port of the same machine is another server.
    check_target_url("postgresql://u:p@127.0.0.1:5433/dashboard", policy)


def test_a_remote_own_server_is_recognised_by_its_addresses_only():
    own = OwnServer(port=5432, dbname="dashboard", addresses=frozenset({ipaddress.ip_address("192.0.2.10")}))
    policy = HostPolicy(own_server=own)
    with pytest.raises(InvalidURL, match="own database;"):
        check_target_url("postgresql://u:p@192.0.2.10:5432/dashboard", policy)
    with pytest.raises(InvalidURL, match="own database server"):
        check_target_url("postgresql://u:p@192.0.2.10:5432/other", policy)
    check_target_url("postgresql://u:p@192.0.2.11:5432/dashboard", policy)


def test_the_policy_is_checked_again_at_connect_time(settings, target_db):
    """A project registered while allowed is refused later, before any connection is made."""
    url = pg.url_for(target_db)
    connect(url, target_settings(url)).conn.close()
    settings.TARGET_BLOCK_PRIVATE_NETWORKS = True
    with pytest.raises(TargetError, match="private or local network") as refused:
        connect(url, target_settings(url))
    assert refused.value.code == "policy"


def test_connect_uses_exactly_the_addresses_the_policy_checked(monkeypatch, target_db):
    """libpq connects to the checked address (hostaddr), never resolving the name itself again.

    `rebind.invalid` cannot be resolved by libpq at all; the policy's resolver (standing in for a
    DNS answer) says 127.0.0.1. The connection works only because libpq uses the checked address.
    A second answer that points elsewhere is caught because every connect resolves and checks anew.
    """
    answers = {"rebind.invalid": [ipaddress.ip_address("127.0.0.1")]}
    real_resolve = host_policy.resolve
    monkeypatch.setattr(host_policy, "resolve", lambda host: answers.get(host) or real_resolve(host))
    server = pg.server()
    url = pg.url_for(target_db).replace(f"@{server['host']}:", "@rebind.invalid:")
    cfg = target_settings(url)
    with connect(url, cfg).conn as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == target_db
    answers["rebind.invalid"] = [ipaddress.ip_address("169.254.169.254")]
    blocking = target_settings(url, policy=HostPolicy(block_private_networks=True))
    with pytest.raises(TargetError, match="private or local network"):
        connect(url, blocking)
