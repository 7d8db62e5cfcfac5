from __future__ import annotations

from shopflow.core.errors import Conflict, Forbidden, NotFound


class CountNotFound(NotFound):
    code = "count_not_found"


class TransferNotFound(NotFound):
    code = "transfer_not_found"


class CountIncomplete(Conflict):
    code = "count_incomplete"


class ManagerRequired(Forbidden):
    code = "manager_required"
