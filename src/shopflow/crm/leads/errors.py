from __future__ import annotations

from shopflow.core.errors import Conflict, NotFound


class LeadNotFound(NotFound):
    code = "lead_not_found"


class LeadClosed(Conflict):
    """CRM-3: a converted or lost lead keeps its grade and takes no more follow-ups."""

    code = "lead_closed"
