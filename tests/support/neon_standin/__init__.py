"""A local stand-in for the Neon API v2, acting on a real local Postgres server.

Neon cannot be reached from here, so tests and the demo talk to this server.
It implements the endpoints the dashboard uses (those of dashboard/neon/client.py) with
real effects:

- a stand-in project maps to a base database on the local server; each branch
  is a database, the default branch being the base database itself;
- creating a branch runs `CREATE DATABASE <new> TEMPLATE <parent>`. Postgres
  needs the template to have no other sessions, so the parent's connections are
  refused for that instant and its sessions terminated (clients see Neon's
  "terminating connection due to administrator command" and reconnect);
- deleting drops the database; restoring recreates it from the source branch;
- an endpoint (compute) is the right to connect to its branch database:
  suspending it runs `ALTER DATABASE ... ALLOW_CONNECTIONS false` and terminates
  its sessions, so an idle compute really is unreachable until started again;
- mutating calls return operations that go from `running` to `finished` in a
  background thread; while one runs, other mutating calls get 423 like Neon;
- `compare_schema` is a unified diff of `pg_dump --schema-only` outputs;
- every call needs `Authorization: Bearer <key>`;
- tests can make it answer 429/423/5xx or be slow (`fail_next`, `slow`, or
  POST /_standin/faults).

Limits: the local server keeps no history per database, so a branch restored onto
itself (`source_lsn` / `source_timestamp`) goes back to the latest history point at or
before it that a test recorded (`record_history_point(project, branch)` keeps a copy at
the server's current LSN and time), and keeps its current data when there is none;
`parent_timestamp` is validated and recorded but a new branch copies current data;
pooled and direct URIs point at the same local server (no PgBouncer).

Run: NEON_STANDIN_DB_URL=postgresql://postgres:postgres@127.0.0.1:54320/postgres \
        python -m tests.support.neon_standin --port 8791 \
        --project pagila-neon=pagila_neon --api-key-file var/neon-standin.key
"""

from .calls import StandIn
from .common import APIError
from .databases import LocalServer
from .server import RunningStandIn, main

__all__ = ["APIError", "LocalServer", "RunningStandIn", "StandIn", "main"]
