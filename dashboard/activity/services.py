"""Services of the activity area: one short, timed read of pg_stat_activity, and signalling a backend."""

from dashboard.connections import open_target
from dashboard.introspection.activity import Activity, read_activity, signal_backend
from dashboard.targets.connect import TargetError, apply_local_timeouts


def load_activity(project) -> tuple[Activity | None, str]:
    """The target's sessions, or None and a message saying why not (never an exception)."""
    try:
        with open_target(project, interactive=True) as target, target.read_only() as cur:
            return read_activity(cur), ""
    except TargetError as exc:
        return None, exc.message


def signal(project, pid: int, action: str) -> tuple[bool | None, str]:
    """Cancel or terminate backend `pid`: (True/False/None as signal_backend says, "") or (None, message)."""
    try:
        with open_target(project, interactive=True) as target, target.conn.transaction():
            apply_local_timeouts(target.conn.cursor(), target.cfg)
            return signal_backend(target.conn, pid, action), ""
    except TargetError as exc:
        return None, exc.message
