"""The worklist REST API under /api/worklist/: queue, tasks, team, outreach, time, timer, notifications.

Every route is role-checked (``accounts.rules.ROLE_PERMISSIONS``), scoped to the caller's organization and
audited; everything the UI does is here too.
"""

from careloop.worklist.api import enrollment, patients, tasks  # noqa: F401 - registers the routes
from careloop.worklist.api.router import router

__all__ = ["router"]
