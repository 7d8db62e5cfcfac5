from __future__ import annotations

from shopflow.core.errors import NotFound


class QuoteNotFound(NotFound):
    code = "quote_not_found"


class ContractNotFound(NotFound):
    code = "contract_not_found"
