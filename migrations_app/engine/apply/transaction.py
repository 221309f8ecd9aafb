"""One step's transaction: BEGIN/COMMIT, or a savepoint when the caller already opened a transaction."""

import psycopg

from ..sqltext import own


class Transaction:
    """BEGIN/COMMIT, or a savepoint when the caller already opened a transaction (rehearsal)."""

    def __init__(self, cur: psycopg.Cursor, nested: bool):
        self.cur, self.nested = cur, nested

    def begin(self) -> None:
        self.cur.execute(own("SAVEPOINT neon_ops_step" if self.nested else "BEGIN"))

    def commit(self) -> None:
        self.cur.execute(own("RELEASE SAVEPOINT neon_ops_step" if self.nested else "COMMIT"))

    def rollback(self) -> None:
        """Roll back what the step did; quietly, because the connection may be gone already."""
        try:
            if self.nested:
                self.cur.execute(own("ROLLBACK TO SAVEPOINT neon_ops_step"))
                self.cur.execute(own("RELEASE SAVEPOINT neon_ops_step"))
            else:
                self.cur.execute(own("ROLLBACK"))
        except psycopg.Error:
            pass
