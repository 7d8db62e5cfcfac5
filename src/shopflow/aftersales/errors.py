from __future__ import annotations

from shopflow.core.errors import AppError, Conflict, Invalid, NotFound


class CaseNotFound(NotFound):
    code = "case_not_found"


class NotEligible(Invalid):
    """ASV-1, ASV-2: the request falls outside the rule it names; nothing is stored."""

    code = "not_eligible"
    title = "Not eligible"


class OverLimit(AppError):
    """ASV-5: a compensation above the agent's limit needs a supervisor. A 403 whose message
    names the limit (the console shows it, not the generic "your role may not")."""

    status = 403
    code = "over_compensation_limit"
    title = "Forbidden"


class NothingToRefund(Conflict):
    """No captured payment of the order holds the case's refund (PAY-3)."""

    code = "nothing_to_refund"
