"""Health facts of one database in a fixed, small number of catalog queries.

Plain functions returning dataclasses; no Django. The rules that judge these
facts (thresholds, severities) live in dashboard/health/rules.py.
"""

from dataclasses import dataclass, field

import psycopg

SUMMARY_SQL = """SELECT /* neon-ops-dashboard health */
  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
  current_setting('max_connections')::int,
  current_setting('superuser_reserved_connections')::int,
  (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'
     AND pid <> pg_backend_pid() AND now() - query_start > make_interval(secs => %(long)s)),
  (SELECT max(EXTRACT(EPOCH FROM now() - query_start))::float8 FROM pg_stat_activity
     WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()),
  (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
     AND state LIKE 'idle in transaction%%' AND now() - state_change > make_interval(secs => %(idle)s)),
  (SELECT max(EXTRACT(EPOCH FROM now() - xact_start))::float8 FROM pg_stat_activity
     WHERE datname = current_database() AND state LIKE 'idle in transaction%%'),
  (SELECT blks_hit FROM pg_stat_database WHERE datname = current_database()),
  (SELECT blks_read FROM pg_stat_database WHERE datname = current_database()),
  (SELECT max(age(datfrozenxid)) FROM pg_database WHERE datallowconn),
  to_regclass('neon_stat_file_cache') IS NOT NULL,
  pg_is_in_recovery()
"""

SEQUENCES_SQL = """SELECT /* neon-ops-dashboard health */
       schemaname, sequencename, last_value, min_value, max_value, increment_by
FROM pg_sequences
WHERE last_value IS NOT NULL
ORDER BY CASE WHEN increment_by > 0 THEN (last_value - min_value)::numeric / NULLIF(max_value - min_value, 0)
              ELSE (max_value - last_value)::numeric / NULLIF(max_value - min_value, 0) END DESC NULLS LAST
LIMIT 10
"""

INVALID_INDEXES_SQL = """SELECT /* neon-ops-dashboard health */
       n.nspname, c.relname, t.relname
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid ORDER BY 1, 2 LIMIT 50
"""

SLOTS_SQL = """SELECT /* neon-ops-dashboard health */
       slot_name, slot_type, database,
       CASE WHEN pg_is_in_recovery() OR restart_lsn IS NULL THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint END
FROM pg_replication_slots WHERE NOT active ORDER BY 1
"""

FILE_CACHE_SQL = (
    "SELECT /* neon-ops-dashboard health */ file_cache_hits, file_cache_misses FROM neon_stat_file_cache"
)


@dataclass
class SequenceUse:
    schema: str
    name: str
    last_value: int
    min_value: int
    max_value: int
    increment_by: int

    @property
    def used_ratio(self) -> float:
        span = self.max_value - self.min_value
        if span <= 0:
            return 0.0
        used = self.last_value - self.min_value if self.increment_by > 0 else self.max_value - self.last_value
        return used / span


@dataclass
class HealthFacts:
    connections: int
    max_connections: int
    reserved_connections: int
    long_running: int
    longest_query_seconds: float | None
    idle_in_transaction: int
    longest_idle_transaction_seconds: float | None
    blks_hit: int
    blks_read: int
    oldest_xid_age: int
    in_recovery: bool
    file_cache_hits: int | None = None
    file_cache_misses: int | None = None
    sequences: list[SequenceUse] = field(default_factory=list)
    invalid_indexes: list[tuple[str, str, str]] = field(default_factory=list)
    inactive_slots: list[tuple[str, str, str | None, int | None]] = field(default_factory=list)


def read_health(cur: psycopg.Cursor, *, long_seconds: int, idle_seconds: int) -> HealthFacts:
    cur.execute(SUMMARY_SQL, {"long": long_seconds, "idle": idle_seconds})
    # Column order of SUMMARY_SQL: the seven connection/session counts first, in HealthFacts' order.
    *sessions, hit, read, xid_age, has_lfc, in_recovery = cur.fetchone()
    facts = HealthFacts(*sessions, hit or 0, read or 0, xid_age or 0, in_recovery)
    if has_lfc:
        cur.execute(FILE_CACHE_SQL)
        row = cur.fetchone()
        if row:
            facts.file_cache_hits, facts.file_cache_misses = row
    cur.execute(SEQUENCES_SQL)
    facts.sequences = [SequenceUse(*row) for row in cur.fetchall()]
    cur.execute(INVALID_INDEXES_SQL)
    facts.invalid_indexes = [tuple(row) for row in cur.fetchall()]
    cur.execute(SLOTS_SQL)
    facts.inactive_slots = [tuple(row) for row in cur.fetchall()]
    return facts
