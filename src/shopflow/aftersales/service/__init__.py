"""After-sales use cases (ASV-1..6), a module each: opening and deciding a case, the goods coming
back and their inspection, refund and settlement, exchange and repair; `steps` is what they share,
with the order's close clock (ORD-7). Callers use `service.open_case(...)` as before."""

from shopflow.aftersales.service.opening import (
    Assessment,
    approve,
    assess,
    cancel,
    cases_of_customer,
    cases_of_order,
    list_cases,
    open_case,
    order_aftersales,
    preview,
    reject,
    return_shipment,
)
from shopflow.aftersales.service.refunding import (
    refund_key,
    refund_requested,
    refund_settled,
    request_refund,
    settled_by_ledger,
)
from shopflow.aftersales.service.remedies import close, exchange, repair
from shopflow.aftersales.service.returns import (
    RETURNS,
    followed_returns,
    inspect,
    receive,
    record_return_shipment,
    return_events,
    track_returns,
)
from shopflow.aftersales.service.steps import close_order_when_free, get_case

__all__ = [
    "RETURNS",
    "Assessment",
    "approve",
    "assess",
    "cancel",
    "cases_of_customer",
    "cases_of_order",
    "close",
    "close_order_when_free",
    "exchange",
    "followed_returns",
    "get_case",
    "inspect",
    "list_cases",
    "open_case",
    "order_aftersales",
    "preview",
    "receive",
    "record_return_shipment",
    "refund_key",
    "refund_requested",
    "refund_settled",
    "reject",
    "repair",
    "request_refund",
    "return_events",
    "return_shipment",
    "settled_by_ledger",
    "track_returns",
]
