"""Health rules: each a small function from facts and thresholds to one check.

Thresholds are passed in (from settings.HEALTH_THRESHOLDS); nothing here reads
settings or the database, so every rule is easy to reason about. A check is a
plain dict so it can be stored as JSON and served by the API unchanged.
"""

from collections.abc import Callable

from dashboard.introspection.health import HealthFacts

OK, WARNING, CRITICAL, UNKNOWN = "ok", "warning", "critical", "unknown"
SEVERITY_RANK = {OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3}
WRAPAROUND_LIMIT = 2**31 - 1


def check(
    check_id: str,
    title: str,
    status: str,
    value: str,
    detail: str,
    link: str,
    metric: float | None,
    items: list | None = None,
) -> dict:
    return {
        "id": check_id,
        "title": title,
        "status": status,
        "value": value,
        "detail": detail,
        "link": link,
        "metric": metric,
        "items": items or [],
    }


def at_least(value: float, warn: float, crit: float) -> str:
    """Status for measures where higher is worse."""
    return CRITICAL if value >= crit else WARNING if value >= warn else OK


def at_most(value: float, warn: float, crit: float) -> str:
    """Status for measures where lower is worse (hit ratios)."""
    return CRITICAL if value < crit else WARNING if value < warn else OK


def connections(f: HealthFacts, t: dict, base: str) -> dict:
    usable = max(f.max_connections - f.reserved_connections, 1)
    ratio = f.connections / usable
    return check(
        "connections",
        "Connections",
        at_least(ratio, *t["connections_ratio"]),
        f"{f.connections} of {usable}",
        f"{ratio:.0%} of max_connections (less reserved) in use.",
        f"{base}activity/",
        round(ratio, 4),
    )


def long_running(f: HealthFacts, t: dict, base: str) -> dict:
    longest = f"; longest {f.longest_query_seconds:.0f} s" if f.longest_query_seconds else ""
    return check(
        "long_running",
        "Long-running queries",
        at_least(f.long_running, *t["long_running_count"]),
        str(f.long_running),
        f"Queries running over {t['long_running_seconds']} s{longest}.",
        f"{base}activity/",
        f.long_running,
    )


def idle_in_transaction(f: HealthFacts, t: dict, base: str) -> dict:
    longest = (
        f"; oldest open {f.longest_idle_transaction_seconds:.0f} s"
        if f.longest_idle_transaction_seconds
        else ""
    )
    return check(
        "idle_in_transaction",
        "Idle in transaction",
        at_least(f.idle_in_transaction, *t["idle_in_transaction_count"]),
        str(f.idle_in_transaction),
        f"Sessions idle in a transaction over {t['idle_in_transaction_seconds']} s{longest}. They hold "
        "locks and keep a Neon compute awake.",
        f"{base}activity/",
        f.idle_in_transaction,
    )


def cache_hit(f: HealthFacts, t: dict, base: str) -> dict:
    total = f.blks_hit + f.blks_read
    if not total:
        return check(
            "cache_hit",
            "Cache hit ratio",
            UNKNOWN,
            "no reads yet",
            "No blocks read since stats reset.",
            f"{base}queries/?sort=reads",
            None,
        )
    ratio = f.blks_hit / total
    status = at_most(ratio, *t["cache_hit_ratio"])
    detail = f"Shared buffers: {ratio:.2%} of {total:,} block reads hit."
    metric_lfc = None
    lfc_total = (f.file_cache_hits or 0) + (f.file_cache_misses or 0)
    if f.file_cache_hits is not None and lfc_total:
        metric_lfc = f.file_cache_hits / lfc_total
        detail += f" Neon local file cache: {metric_lfc:.2%} of {lfc_total:,}."
        status = max(status, at_most(metric_lfc, *t["cache_hit_ratio"]), key=SEVERITY_RANK.get)
    value = f"{ratio:.2%}" + (f" · LFC {metric_lfc:.2%}" if metric_lfc is not None else "")
    return check(
        "cache_hit", "Cache hit ratio", status, value, detail, f"{base}queries/?sort=reads", round(ratio, 5)
    )


def wraparound(f: HealthFacts, t: dict, base: str) -> dict:
    ratio = f.oldest_xid_age / WRAPAROUND_LIMIT
    return check(
        "wraparound",
        "Transaction ID wraparound",
        at_least(ratio, *t["wraparound_ratio"]),
        f"{ratio:.1%}",
        f"Oldest unfrozen transaction ID is {f.oldest_xid_age:,} transactions old "
        "(wraparound at 2.1 billion; autovacuum freezes).",
        f"{base}health/#wraparound",
        round(ratio, 5),
    )


def sequences(f: HealthFacts, t: dict, base: str) -> dict:
    worst = max((s.used_ratio for s in f.sequences), default=0.0)
    warn, crit = t["sequence_ratio"]
    near = [s for s in f.sequences if s.used_ratio >= warn]
    items = [
        {
            "name": f"{s.schema}.{s.name}",
            "used": round(s.used_ratio, 4),
            "last_value": s.last_value,
            "max_value": s.max_value,
        }
        for s in near
    ]
    return check(
        "sequences",
        "Sequences near their limit",
        at_least(worst, warn, crit),
        str(len(near)),
        f"Fullest sequence has used {worst:.1%} of its range.",
        f"{base}health/#sequences",
        round(worst, 5),
        items,
    )


def invalid_indexes(f: HealthFacts, t: dict, base: str) -> dict:
    count = len(f.invalid_indexes)
    items = [{"name": f"{schema}.{index}", "table": table} for schema, index, table in f.invalid_indexes]
    return check(
        "invalid_indexes",
        "Invalid indexes",
        at_least(count, *t["invalid_indexes"]),
        str(count),
        "Invalid indexes (failed CREATE INDEX CONCURRENTLY) cost writes and are never used; "
        "drop and rebuild them.",
        f"{base}health/#invalid_indexes",
        count,
        items,
    )


def inactive_slots(f: HealthFacts, t: dict, base: str) -> dict:
    count = len(f.inactive_slots)
    items = [
        {"name": name, "type": kind, "database": db, "retained_wal_bytes": retained}
        for name, kind, db, retained in f.inactive_slots
    ]
    return check(
        "inactive_slots",
        "Inactive replication slots",
        at_least(count, *t["inactive_slots"]),
        str(count),
        "Inactive slots retain WAL until dropped.",
        f"{base}health/#inactive_slots",
        count,
        items,
    )


def slow_statements(slow: list[dict], t: dict, base: str) -> dict:
    """`slow` comes from the stored history: statements with mean >= slow_mean_ms over >= slow_min_calls calls."""
    count = len(slow)
    return check(
        "slow_statements",
        "Slow statements (last hour)",
        at_least(count, *t["slow_count"]),
        str(count),
        f"Mean at least {t['slow_mean_ms']:g} ms over at least {t['slow_min_calls']} calls in the last hour.",
        f"{base}queries/?window=1h&sort=mean",
        count,
        slow[:10],
    )


TARGET_RULES: list[Callable[[HealthFacts, dict, str], dict]] = [
    connections,
    long_running,
    idle_in_transaction,
    cache_hit,
    wraparound,
    sequences,
    invalid_indexes,
    inactive_slots,
]


def evaluate(facts: HealthFacts, slow: list[dict], thresholds: dict, base: str) -> list[dict]:
    return [rule(facts, thresholds, base) for rule in TARGET_RULES] + [
        slow_statements(slow, thresholds, base)
    ]


def overall(checks: list[dict]) -> str:
    return max((c["status"] for c in checks), key=SEVERITY_RANK.get, default=UNKNOWN)
