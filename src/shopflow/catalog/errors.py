from __future__ import annotations

from shopflow.core.errors import Conflict, Invalid, NotFound


class SkuNotFound(NotFound):
    code = "sku_not_found"


class DuplicateSku(Conflict):
    code = "duplicate_sku"


class ProductNotFound(NotFound):
    code = "product_not_found"


class BannedWords(Invalid):
    """CAT-4: a listing uses banned words; each is a field error naming the word and position."""

    code = "banned_words"


class PriceRuleNotFound(NotFound):
    code = "price_rule_not_found"
