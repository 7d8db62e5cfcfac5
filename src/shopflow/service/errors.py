from __future__ import annotations

from shopflow.core.errors import AppError, Conflict, NotFound


class TicketNotFound(NotFound):
    code = "ticket_not_found"


class TicketDone(Conflict):
    """A resolved or closed ticket takes no answers, notes or escalations until it is reopened."""

    code = "ticket_done"


class ReopenWindowPassed(Conflict):
    """A ticket may be reopened only within `service.reopen_within_days` of its resolution."""

    code = "reopen_window_passed"


class SurveyNotFound(NotFound):
    """A survey token this server did not sign (tampered, truncated, made up), or no such survey."""

    code = "survey_not_found"


class SurveyExpired(AppError):
    """The survey's time to answer is over (SVC-6)."""

    status = 410
    code = "survey_expired"
    title = "Gone"


class SurveyAnswered(Conflict):
    """A survey is answered once."""

    code = "survey_answered"


class CallbackNotFound(NotFound):
    code = "callback_not_found"
