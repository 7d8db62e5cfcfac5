from __future__ import annotations

from shopflow.core.errors import Conflict, NotFound


class TicketNotFound(NotFound):
    code = "ticket_not_found"


class TicketDone(Conflict):
    """A resolved or closed ticket takes no answers, notes or escalations until it is reopened."""

    code = "ticket_done"


class ReopenWindowPassed(Conflict):
    """A ticket may be reopened only within `service.reopen_within_days` of its resolution."""

    code = "reopen_window_passed"
