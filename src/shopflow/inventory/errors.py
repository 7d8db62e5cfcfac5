from __future__ import annotations

from shopflow.core.errors import Conflict, FieldError, NotFound


class WarehouseNotFound(NotFound):
    code = "warehouse_not_found"


class DuplicateWarehouse(Conflict):
    code = "duplicate_warehouse"


class DuplicateReceipt(Conflict):
    code = "duplicate_receipt"


class BelowReserved(Conflict):
    """A stock change that would leave a warehouse fewer units on hand than it has reserved;
    `sku_ids`: the SKUs that would."""

    code = "below_reserved"

    def __init__(self, detail: str, sku_ids: list[int], errors: list[FieldError]) -> None:
        super().__init__(detail, errors=errors)
        self.sku_ids = sku_ids
