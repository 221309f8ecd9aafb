"""Models of the dashboard, one module per area.

core: teams, members, projects, task runs, audit. Area modules (neon, schema,
queries) add their own records and are imported here so Django finds them.
"""

from .core import AuditEvent, Membership, Outcome, Project, ProjectStatus, Role, TaskRun, TaskStatus, Team  # noqa: F401
from .neon import *  # noqa: F401,F403
from .queries import *  # noqa: F401,F403
from .schema import *  # noqa: F401,F403
