from __future__ import annotations

from shopflow.core.errors import Conflict, NotFound


class WarehouseNotFound(NotFound):
    code = "warehouse_not_found"


class DuplicateWarehouse(Conflict):
    code = "duplicate_warehouse"


class DuplicateReceipt(Conflict):
    code = "duplicate_receipt"
