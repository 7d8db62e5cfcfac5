from __future__ import annotations

from shopflow.core.errors import Conflict, NotFound


class ReviewNotFound(NotFound):
    code = "risk_review_not_found"


class BlockNotFound(NotFound):
    code = "block_not_found"


class AlreadyBlocked(Conflict):
    code = "already_blocked"
