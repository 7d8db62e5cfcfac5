from __future__ import annotations

from shopflow.core.errors import Conflict, NotFound


class DuplicateSupplier(Conflict):
    code = "duplicate_supplier"


class PurchaseOrderNotFound(NotFound):
    code = "purchase_order_not_found"


class NoForecast(NotFound):
    code = "no_forecast"
