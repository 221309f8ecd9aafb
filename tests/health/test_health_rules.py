"""Health rules on given facts: thresholds from settings decide ok / warning / critical."""

import pytest
from django.conf import settings

from dashboard.health import rules
from dashboard.introspection.health import HealthFacts, SequenceUse


def facts(**overrides) -> HealthFacts:
    values = dict(
        connections=10,
        max_connections=103,
        reserved_connections=3,
        long_running=0,
        longest_query_seconds=None,
        idle_in_transaction=0,
        longest_idle_transaction_seconds=None,
        blks_hit=999_900,
        blks_read=100,
        oldest_xid_age=1000,
        in_recovery=False,
    )
    values.update(overrides)
    return HealthFacts(**values)


T = settings.HEALTH_THRESHOLDS


@pytest.mark.parametrize("connections,status", [(10, "ok"), (75, "warning"), (90, "critical")])
def test_connections_against_usable_max(connections, status):
    result = rules.connections(facts(connections=connections), T, "/projects/x/")
    assert result["status"] == status and result["value"] == f"{connections} of 100"


def test_cache_hit_takes_the_worse_of_shared_buffers_and_neon_file_cache():
    good = rules.cache_hit(facts(), T, "/p/")
    assert good["status"] == "ok"
    poor_lfc = rules.cache_hit(facts(file_cache_hits=97, file_cache_misses=3), T, "/p/")
    assert poor_lfc["status"] == "warning" and "LFC 97.00%" in poor_lfc["value"]
    assert rules.cache_hit(facts(blks_hit=0, blks_read=0), T, "/p/")["status"] == "unknown"


def test_descending_sequence_near_its_minimum_is_critical():
    falling = SequenceUse(
        "public", "countdown", last_value=-30_000, min_value=-32_767, max_value=-1, increment_by=-1
    )
    result = rules.sequences(facts(sequences=[falling]), T, "/p/")
    assert result["status"] == "critical" and result["items"][0]["name"] == "public.countdown"


@pytest.mark.parametrize(
    "age,status", [(100_000_000, "ok"), (1_200_000_000, "warning"), (1_700_000_000, "critical")]
)
def test_wraparound(age, status):
    assert rules.wraparound(facts(oldest_xid_age=age), T, "/p/")["status"] == status


def test_overall_is_the_worst_check():
    checks = rules.evaluate(facts(connections=95), [], T, "/p/")
    assert rules.overall(checks) == "critical"
    assert len(checks) == 9
