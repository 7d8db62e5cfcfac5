from __future__ import annotations

from shopflow.core.errors import Conflict, NotFound


class SkuNotFound(NotFound):
    code = "sku_not_found"


class DuplicateSku(Conflict):
    code = "duplicate_sku"
