"""The later domains are told to the earlier ones that cannot import them (ARCHITECTURE rule 1):
the app registers each (`shopflow.wiring.connect`), so an order finds its customer, a profile lists
its cases, an order shows its cases and a case's refund settles it."""

from __future__ import annotations

import pytest

from shopflow.aftersales import service as aftersales
from shopflow.core.db import Database
from shopflow.crm import service as customers
from shopflow.fulfillment.service import tracking
from shopflow.orders.service import intake, queries
from shopflow.payments import refunds
from tests.conftest import make_app


def test_making_the_app_registers_every_later_domain(monkeypatch: pytest.MonkeyPatch, db: Database) -> None:
    monkeypatch.setattr(intake, "_CUSTOMERS", [])
    monkeypatch.setattr(customers, "_RELATED", {})
    monkeypatch.setattr(queries, "_AFTERSALES", [])
    monkeypatch.setattr(refunds, "ON_SETTLED", [])
    monkeypatch.setattr(tracking, "FOLLOWERS", [])

    make_app(db)

    registered = (intake._CUSTOMERS, customers._RELATED, queries._AFTERSALES, refunds.ON_SETTLED)
    assert registered == (
        [customers.for_order],
        {"aftersales": aftersales.cases_of_customer},
        [aftersales.order_aftersales],
        [aftersales.settled_by_ledger],
    )
    assert list(tracking.FOLLOWERS) == [aftersales.RETURNS]
