from __future__ import annotations

from shopflow.core.errors import Conflict, NotFound


class OrderNotFound(NotFound):
    code = "order_not_found"


class OutOfStock(Conflict):
    code = "out_of_stock"
