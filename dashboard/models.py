"""Every model of the dashboard app, imported from the area that owns it (wiring only)."""

from dashboard.api.models import *  # noqa: F401,F403
from dashboard.benchmarks.models import *  # noqa: F401,F403
from dashboard.common.models import *  # noqa: F401,F403
from dashboard.health.models import *  # noqa: F401,F403
from dashboard.neon.models import *  # noqa: F401,F403
from dashboard.projects.models import *  # noqa: F401,F403
from dashboard.queries.models import *  # noqa: F401,F403
from dashboard.schema.models import *  # noqa: F401,F403
from dashboard.taskruns.models import *  # noqa: F401,F403
from dashboard.teams.models import *  # noqa: F401,F403  (first: the others refer to teams)
