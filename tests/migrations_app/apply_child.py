"""A worker stand-in for crash tests: applies the SQL read from stdin, printing each progress event.

Run: python -m tests.migrations_app.apply_child <target url> <migration id>  (the test kills it).
"""

import sys

from dashboard.targets.connect import TargetSettings, connect
from migrations_app.engine.apply import apply_migration
from migrations_app.engine.plan import build_plan


def main() -> None:
    url, migration_id = sys.argv[1], sys.argv[2]
    plan = build_plan(sys.stdin.read())
    conn = connect(url, TargetSettings(application_name="migration-child")).conn

    def report(progress):
        print(progress.event, progress.step, progress.statement_index, flush=True)

    result = apply_migration(
        conn, plan, migration_id=migration_id, checksum=plan.checksum, on_progress=report
    )
    print("result", result.status, flush=True)


if __name__ == "__main__":
    main()
