"""The later domains are told to the earlier ones that cannot import them (ARCHITECTURE rule 1):
the app and the worker register each (`shopflow.wiring.connect`), so an order finds its customer,
a profile lists its cases, an order shows its cases and a case's refund settles it."""

from __future__ import annotations

import pytest

from shopflow.aftersales import service as aftersales
from shopflow.core.db import Database
from shopflow.crm import service as customers
from shopflow.fulfillment.service import tracking
from shopflow.orders.service import intake, queries
from shopflow.payments import refunds
from shopflow.worker import Worker
from tests.conftest import make_app


@pytest.mark.parametrize("runner", ["app", "worker"])
def test_making_the_app_or_the_worker_registers_every_later_domain(
    runner: str, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setattr(intake, "_CUSTOMERS", [])
    monkeypatch.setattr(customers, "_RELATED", {})
    monkeypatch.setattr(queries, "_AFTERSALES", [])
    monkeypatch.setattr(refunds, "ON_SETTLED", [])
    monkeypatch.setattr(tracking, "FOLLOWERS", [])

    if runner == "app":
        make_app(db)
    else:
        Worker(db, interval=1.0)  # `shopflow worker` alone: a retried refund settles its case

    registered = (intake._CUSTOMERS, customers._RELATED, queries._AFTERSALES, refunds.ON_SETTLED)
    assert registered == (
        [customers.for_order],
        {"aftersales": aftersales.cases_of_customer},
        [aftersales.order_aftersales],
        [aftersales.settled_by_ledger],
    )
    assert list(tracking.FOLLOWERS) == [aftersales.RETURNS]
