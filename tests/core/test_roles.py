"""The permission table reviewed (issue 10, item 10; RSK-3): every operation of the OpenAPI document
asked by every role answers 403 exactly where `PERMISSIONS` says; DEVELOPERS.md's table of who
may do what is `PERMISSIONS`; the order read routes show personal data masked or unmasked by role,
with a logged read for each unmasked answer and none for a masked one."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shopflow.core import alerts, personal_data
from shopflow.core.auth import PERMISSIONS, User, allowed
from shopflow.core.db import Database
from shopflow.core.personal_data import PersonalDataRead
from shopflow.core.roles import Role
from tests.builders.auth import bearer
from tests.builders.lifecycle import place, stocked_store
from tests.builders.orders import order_body
from tests.conftest import ROOT

# Every operation of the OpenAPI document and the permission its dependency `require`s; None for
# the public ones (signed callbacks and pushes, the health check). A route without a row here
# fails `test_every_route_has_a_row`: add one when adding a route.
ROUTES: dict[str, str | None] = {
    "POST /api/v1/orders": "orders.create",
    "GET /api/v1/orders": "orders.read",
    "GET /api/v1/orders/by-number/{order_no}": "orders.read",
    "GET /api/v1/orders/{order_id}": "orders.read",
    "POST /api/v1/orders/{order_id}/cancel": "orders.cancel",
    "POST /api/v1/orders/{order_id}/hold": "orders.hold",
    "POST /api/v1/orders/{order_id}/release": "orders.hold",
    "POST /api/v1/orders/{order_id}/confirm-receipt": "orders.confirm_receipt",
    "GET /api/v1/policy": "policy.read",
    "POST /api/v1/products": "catalog.write",
    "GET /api/v1/products/{product_id}": "catalog.read",
    "PATCH /api/v1/products/{product_id}": "catalog.write",
    "POST /api/v1/products/{product_id}/publish": "catalog.write",
    "GET /api/v1/coupons": "coupons.read",
    "POST /api/v1/coupons": "coupons.write",
    "POST /api/v1/coupons/check": "coupons.read",
    "GET /api/v1/coupons/{coupon_id}": "coupons.read",
    "POST /api/v1/coupons/{coupon_id}/codes": "coupons.write",
    "GET /api/v1/coupons/{coupon_id}/uses": "coupons.read",
    "POST /api/v1/campaigns": "coupons.write",
    "GET /api/v1/campaigns": "coupons.read",
    "GET /api/v1/campaigns/{campaign_id}": "coupons.read",
    "GET /api/v1/campaigns/{campaign_id}/metrics": "coupons.read",
    "GET /api/v1/skus/{code}": "catalog.read",
    "PATCH /api/v1/skus/{code}": "catalog.price",
    "GET /api/v1/skus/{code}/price": "catalog.read",
    "POST /api/v1/skus/{code}/price-change/approve": "catalog.approve",
    "POST /api/v1/skus/{code}/price-change/reject": "catalog.approve",
    "GET /api/v1/price-rules": "catalog.read",
    "POST /api/v1/price-rules": "catalog.price",
    "GET /api/v1/price-rules/{rule_id}": "catalog.read",
    "POST /api/v1/price-rules/{rule_id}/approve": "catalog.approve",
    "POST /api/v1/price-rules/{rule_id}/reject": "catalog.approve",
    "POST /api/v1/warehouses": "warehouses.write",
    "GET /api/v1/warehouses": "inventory.read",
    "POST /api/v1/inventory/receipts": "inventory.receive",
    "GET /api/v1/inventory/{sku}": "inventory.read",
    "GET /api/v1/inventory/{sku}/ledger": "inventory.read",
    "GET /api/v1/suppliers": "purchasing.read",
    "POST /api/v1/suppliers": "purchasing.write",
    "GET /api/v1/purchase-orders": "purchasing.read",
    "POST /api/v1/purchase-orders": "purchasing.write",
    "POST /api/v1/purchase-orders/{po_id}/submit": "purchasing.write",
    "POST /api/v1/purchase-orders/{po_id}/confirm": "purchasing.write",
    "POST /api/v1/purchase-orders/{po_id}/cancel": "purchasing.write",
    "POST /api/v1/purchase-orders/{po_id}/receipts": "inventory.receive",
    "GET /api/v1/replenishment/suggestions": "purchasing.read",
    "GET /api/v1/forecast/{sku}": "inventory.read",
    "GET /api/v1/counts": "inventory.read",
    "POST /api/v1/counts": "counts.write",
    "POST /api/v1/counts/{count_id}/lines": "counts.write",
    "POST /api/v1/counts/{count_id}/approve": "counts.approve",
    "POST /api/v1/counts/{count_id}/post": "counts.approve",
    "GET /api/v1/transfers": "inventory.read",
    "GET /api/v1/transfers/suggestions": "inventory.read",
    "POST /api/v1/transfers": "transfers.write",
    "POST /api/v1/transfers/{transfer_id}/ship": "transfers.write",
    "POST /api/v1/transfers/{transfer_id}/receive": "transfers.write",
    "GET /api/v1/risk/queue": "risk.read",
    "POST /api/v1/risk/reviews/{order_id}/approve": "risk.review",
    "POST /api/v1/risk/reviews/{order_id}/reject": "risk.review",
    "POST /api/v1/risk/reviews/{order_id}/assign": "risk.review",
    "GET /api/v1/risk/rules": "risk.read",
    "POST /api/v1/risk/rules": "risk.rules",
    "GET /api/v1/risk/blocklist": "risk.read",
    "POST /api/v1/risk/blocklist": "risk.blocklist",
    "DELETE /api/v1/risk/blocklist/{block_id}": "risk.blocklist",
    "GET /api/v1/orders/{order_id}/risk": "risk.read",
    "POST /api/v1/orders/{order_id}/payments": "payments.create",
    "GET /api/v1/orders/{order_id}/payments": "orders.read",
    "GET /api/v1/payments/receipts": "payments.read",
    "GET /api/v1/payments/{payment_id}": "orders.read",
    "POST /api/v1/payments/callbacks/sandbox": None,
    "POST /api/v1/payments/callbacks/alipay": None,
    "POST /api/v1/payments/callbacks/wechat": None,
    "POST /api/v1/sandbox/payments/{payment_id}/complete": "payments.sandbox.complete",
    "POST /api/v1/payments/{payment_id}/refunds": "payments.refund",
    "GET /api/v1/payments/{payment_id}/refunds": "payments.read",
    "POST /api/v1/payments/callbacks/sandbox/refunds": None,
    "POST /api/v1/sandbox/refunds/{refund_id}/complete": "payments.sandbox.complete",
    "POST /api/v1/webhooks": "webhooks.manage",
    "GET /api/v1/webhooks": "webhooks.manage",
    "DELETE /api/v1/webhooks/{webhook_id}": "webhooks.manage",
    "GET /api/v1/notifications/deliveries": "notifications.read",
    "POST /api/v1/notifications/deliveries/{delivery_id}/retry": "notifications.retry",
    "POST /api/v1/waves": "fulfillment.work",
    "GET /api/v1/waves": "fulfillment.read",
    "GET /api/v1/waves/{wave_id}": "fulfillment.read",
    "GET /api/v1/waves/{wave_id}/pick-list": "fulfillment.read",
    "GET /api/v1/waves/{wave_id}/pick-list.pdf": "fulfillment.read",
    "GET /api/v1/pick-tasks/{task_id}": "fulfillment.read",
    "GET /api/v1/pick-tasks/{task_id}/packing-slip": "fulfillment.read",
    "GET /api/v1/pick-tasks/{task_id}/packing-slip.pdf": "fulfillment.read",
    "POST /api/v1/pick-tasks/{task_id}/pack": "fulfillment.work",
    "POST /api/v1/pick-tasks/{task_id}/check": "fulfillment.work",
    "POST /api/v1/pick-tasks/{task_id}/ship": "fulfillment.work",
    "GET /api/v1/shipments": "fulfillment.read",
    "GET /api/v1/shipments/{shipment_id}": "fulfillment.read",
    "GET /api/v1/exceptions": "fulfillment.read",
    "POST /api/v1/exceptions/{case_id}/contact": "fulfillment.exceptions",
    "POST /api/v1/carriers": "carriers.manage",
    "GET /api/v1/carriers": "carriers.read",
    "GET /api/v1/carriers/scorecards": "carriers.read",
    "GET /api/v1/carriers/{code}": "carriers.read",
    "PATCH /api/v1/carriers/{code}": "carriers.manage",
    "POST /api/v1/carriers/{code}/events": None,
    "POST /api/v1/carriers/{code}/freight-bills": "freight.reconcile",
    "POST /api/v1/carrier-rules": "carriers.manage",
    "GET /api/v1/carrier-rules": "carriers.read",
    "GET /api/v1/carrier-rules/choice": "carriers.read",
    "DELETE /api/v1/carrier-rules/{rule_id}": "carriers.manage",
    "GET /api/v1/alerts": "alerts.read",
    # Acknowledging and resolving: the route lets every reader in, the alert's kind decides
    # (`alerts.ack.<kind>`, test_money_alerts_are_acknowledged_only_by_finance_managers_and_admins).
    "POST /api/v1/alerts/acknowledge": "alerts.read",
    "POST /api/v1/alerts/{alert_id}/acknowledge": "alerts.read",
    "POST /api/v1/alerts/{alert_id}/resolve": "alerts.read",
    "GET /api/v1/sla": "sla.read",
    "GET /api/v1/sla/compliance": "sla.read",
    "GET /api/v1/personal-data-reads": "personal_data.reads",
    "GET /api/v1/users": "users.manage",
    "PATCH /api/v1/users/{username}": "users.manage",
    "POST /api/v1/users/{username}/disable": "users.manage",
    "POST /api/v1/users/{username}/enable": "users.manage",
    "GET /api/v1/tokens": "users.manage",
    "POST /api/v1/tokens/{token_id}/revoke": "users.manage",
    "POST /api/v1/aftersales/cases": "aftersales.open",
    "GET /api/v1/aftersales/cases": "aftersales.read",
    "GET /api/v1/aftersales/cases/{case_id}": "aftersales.read",
    "GET /api/v1/orders/{order_id}/aftersales": "aftersales.read",
    "POST /api/v1/aftersales/cases/{case_id}/approve": "aftersales.decide",
    "POST /api/v1/aftersales/cases/{case_id}/cancel": "aftersales.open",
    "POST /api/v1/aftersales/cases/{case_id}/receive": "aftersales.inspect",
    "POST /api/v1/aftersales/cases/{case_id}/refund": "aftersales.decide",
    "POST /api/v1/aftersales/cases/{case_id}/exchange": "aftersales.decide",
    "POST /api/v1/aftersales/cases/{case_id}/repair": "aftersales.decide",
    "POST /api/v1/aftersales/cases/{case_id}/close": "aftersales.decide",
    "POST /api/v1/aftersales/cases/{case_id}/reject": "aftersales.decide",
    "POST /api/v1/aftersales/cases/{case_id}/return-shipment": "aftersales.open",
    "POST /api/v1/aftersales/cases/{case_id}/inspect": "aftersales.inspect",
    "GET /api/v1/leads": "leads.read",
    "POST /api/v1/leads": "leads.write",
    "GET /api/v1/leads/{lead_id}": "leads.read",
    "POST /api/v1/leads/{lead_id}/follow-ups": "leads.write",
    "POST /api/v1/leads/{lead_id}/grade": "leads.write",
    "POST /api/v1/leads/{lead_id}/assign": "leads.assign",
    "POST /api/v1/leads/intake": None,  # the storefront's form: no token, limited per address
    "GET /api/v1/tickets": "tickets.read",
    "POST /api/v1/tickets": "tickets.write",
    "GET /api/v1/tickets/{ticket_id}": "tickets.read",
    "GET /api/v1/tickets/{ticket_id}/scripts": "tickets.read",
    "POST /api/v1/tickets/{ticket_id}/messages": "tickets.write",
    "POST /api/v1/tickets/{ticket_id}/inbound": "tickets.write",
    "POST /api/v1/tickets/{ticket_id}/assign": "tickets.assign",
    "POST /api/v1/tickets/{ticket_id}/escalate": "tickets.escalate",
    "POST /api/v1/tickets/{ticket_id}/pend": "tickets.write",
    "POST /api/v1/tickets/{ticket_id}/resolve": "tickets.write",
    "POST /api/v1/tickets/{ticket_id}/close": "tickets.write",
    "POST /api/v1/tickets/{ticket_id}/reopen": "tickets.write",
    "POST /api/v1/reviews": "tickets.write",
    "GET /api/v1/quotes": "quotes.read",
    "POST /api/v1/quotes": "quotes.write",
    "GET /api/v1/quotes/{quote_id}": "quotes.read",
    "POST /api/v1/quotes/{quote_id}/submit": "quotes.write",
    "POST /api/v1/quotes/{quote_id}/approve": "quotes.approve",
    "POST /api/v1/quotes/{quote_id}/reject": "quotes.write",
    "POST /api/v1/quotes/{quote_id}/send": "quotes.write",
    "POST /api/v1/quotes/{quote_id}/accept": "quotes.write",
    "GET /api/v1/contracts/{contract_id}": "quotes.read",
    "GET /api/v1/contracts/{contract_id}.pdf": "quotes.read",
    "POST /api/v1/surveys/{token}": None,  # the customer's signed survey link: no token
    "GET /api/v1/service/callbacks": "tickets.read",
    "POST /api/v1/service/callbacks/{task_id}/done": "tickets.write",
    "POST /api/v1/service/callbacks/{task_id}/undone": "tickets.write",
    "GET /api/v1/service/agents/metrics": "service.metrics.read",
    "GET /api/v1/customers": "customers.read",
    "POST /api/v1/customers": "customers.write",
    "GET /api/v1/customers/{customer_id}": "customers.read",
    "GET /api/v1/members/{customer_id}": "customers.read",
    "POST /api/v1/members/{customer_id}/points": "members.adjust",
    "PUT /api/v1/members/{customer_id}/agent": "members.assign_agent",
    "GET /api/v1/customers/{customer_id}/export": "personal_data.read",
    "POST /api/v1/customers/{customer_id}/erase": "customers.erase",
    "POST /api/v1/customers/{customer_id}/merge": "customers.write",
    "PATCH /api/v1/customers/{customer_id}": "customers.write",
    "POST /api/v1/analytics/traffic": "analytics.traffic.write",
    "GET /api/v1/crm/funnel": "customers.read",
    "GET /api/v1/analytics/metrics": "analytics.read",
    "GET /api/v1/analytics/categories": "analytics.read",
    "GET /api/v1/analytics/skus": "analytics.read",
    "GET /api/v1/analytics/pipeline": "analytics.read",
    "GET /api/v1/reports/{kind}": "analytics.read",
    "GET /api/v1/kb/articles": "kb.read",
    "POST /api/v1/kb/articles": "kb.write",
    "GET /api/v1/kb/articles/{article_id}": "kb.read",
    "PATCH /api/v1/kb/articles/{article_id}": "kb.write",
    "GET /api/v1/kb/search": "kb.read",
    "GET /healthz": None,
    # The customer's page (HTML): its signed link is the key; tampered or unknown links get 404.
    "GET /my/orders/{token}": None,
    "POST /my/orders/{token}/confirm-receipt": None,
    "POST /my/orders/{token}/returns/preview": None,
    "POST /my/orders/{token}/returns": None,
    "GET /s/{token}": None,  # the customer's survey page (SVC-6)
    "POST /s/{token}": None,
}


async def _operations(client: httpx.AsyncClient) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Every operation of the OpenAPI document: "METHOD /path" -> (method, path, operation)."""
    document = (await client.get("/openapi.json")).json()
    return {
        f"{method.upper()} {path}": (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def _url(path: str, operation: dict[str, Any]) -> str:
    """`path` with its parameters filled with values that name nothing stored."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            kind = parameter["schema"].get("type")
            path = path.replace(f"{{{parameter['name']}}}", "999999" if kind == "integer" else "NOTHING")
    return path


async def test_every_route_has_a_row(client: httpx.AsyncClient) -> None:
    operations = await _operations(client)

    assert sorted(operations.keys() - ROUTES.keys()) == [], "routes without a row in ROUTES"
    assert sorted(ROUTES.keys() - operations.keys()) == [], "rows of ROUTES naming no route"
    assert {p for p in ROUTES.values() if p is not None} <= PERMISSIONS.keys()


async def test_every_route_answers_403_exactly_to_the_roles_the_table_leaves_out(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers = {role: await bearer(db, role) for role in Role}
    wrong = []
    for key, (method, path, operation) in sorted((await _operations(client)).items()):
        permission = ROUTES[key]
        url = _url(path, operation)
        body = {} if "requestBody" in operation else None
        for role in Role:
            reply = await client.request(method, url, headers=headers[role], json=body)
            refused = permission is not None and not allowed(role, permission)
            if (reply.status_code == 403) != refused or reply.status_code >= 500:
                wrong.append((key, role.value, reply.status_code, "403" if refused else "not 403"))
    assert wrong == []


def _documented_table() -> dict[str, str]:
    """DEVELOPERS.md's table of who may do what: permission -> its roles as written."""
    section = (ROOT / "DEVELOPERS.md").read_text().split("### Who may do what", 1)[1]
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+?) \|$", section.split("\n\n##", 1)[0], re.M)
    return dict(rows)


def _written(roles: frozenset[Role]) -> str:
    """A permission's roles as the table writes them (admin, who may do everything, left out)."""
    others = roles - {Role.ADMIN}
    if others == frozenset(Role) - {Role.ADMIN}:
        return "everyone"
    return ", ".join(role.value for role in Role if role in others) or "admin only"


def test_developers_md_says_who_may_do_what_as_the_permission_table_does() -> None:
    expected = {permission: _written(roles) for permission, roles in PERMISSIONS.items()}

    assert _documented_table() == expected


@pytest.mark.parametrize("kind", ["payment_amount_mismatch", "payment_for_unpayable_order"])
def test_money_alerts_are_acknowledged_only_by_finance_managers_and_admins(kind: str) -> None:
    may = {role for role in Role if alerts.may_handle(role, kind)}

    assert may == {Role.FINANCE, Role.MANAGER, Role.ADMIN}


# --- personal data by role on the order read routes (RSK-3) ------------------------------------

REVEALED = {Role.ADMIN, Role.MANAGER, Role.SALES, Role.CUSTOMER_SERVICE, Role.CS_SUPERVISOR}


def test_personal_data_is_read_by_sales_service_their_supervisors_managers_and_admins() -> None:
    assert {role for role in Role if personal_data.reveals(role)} == REVEALED


async def _reads(db: Database, **where: object) -> list[tuple[int, str]]:
    async with db.transaction() as session:
        stmt = select(PersonalDataRead.subject_id, PersonalDataRead.endpoint).filter_by(**where)
        return [(found.subject_id, found.endpoint) for found in await session.execute(stmt)]


async def test_order_read_routes_show_personal_data_by_role_and_log_each_unmasked_read(
    client: httpx.AsyncClient, db: Database
) -> None:
    await stocked_store(db, 5)
    order_id = await place(db)
    order_no = (await client.get(f"/api/v1/orders/{order_id}", headers=await bearer(db, "admin"))).json()[
        "order_no"
    ]
    async with db.transaction() as session:
        await session.execute(PersonalDataRead.__table__.delete())
    routes = {
        "GET /api/v1/orders/{order_id}": f"/api/v1/orders/{order_id}",
        "GET /api/v1/orders/by-number/{order_no}": f"/api/v1/orders/by-number/{order_no.lower()}",
    }

    for role in Role:
        headers = await bearer(db, role, username=f"reader-{role}")
        for url in routes.values():
            order = (await client.get(url, headers=headers)).json()
            customer, address = order["customer"], order["shipping_address"]
            if role in REVEALED:
                assert customer == {"name": "张三", "phone": "13800138000", "email": "zhang@example.cn"}
                assert (address["name"], address["phone"], address["street"]) == (
                    "张三",
                    "13800138000",
                    "世纪大道100号",
                )
            else:
                assert customer == {"name": "张*", "phone": "138****8000", "email": "z***@example.cn"}
                assert (address["name"], address["phone"], address["street"]) == (
                    "张*",
                    "138****8000",
                    "世纪****",
                )
            assert (address["province"], address["city"], address["district"]) == (
                "上海",
                "上海市",
                "浦东新区",
            )
        async with db.transaction() as session:
            user_id = await session.scalar(select(User.id).filter_by(username=f"reader-{role}"))
        logged = sorted(await _reads(db, user_id=user_id))
        assert logged == (sorted((order_id, endpoint) for endpoint in routes) if role in REVEALED else []), (
            role
        )


async def test_placing_an_order_is_not_a_read_but_holding_one_is(
    client: httpx.AsyncClient, db: Database
) -> None:
    await stocked_store(db, 5)
    service = await bearer(db, "customer_service")
    operations = await bearer(db, "operations")
    placed = await client.post("/api/v1/orders", json=order_body([("SKU-1", 1, "99.00")]), headers=service)
    assert placed.status_code == 201 and placed.json()["customer"]["phone"] == "13800138000"
    assert await _reads(db) == []

    held = await client.post(f"/api/v1/orders/{placed.json()['id']}/hold", json={}, headers=operations)
    assert held.status_code == 200 and held.json()["customer"]["phone"] == "138****8000"
    assert await _reads(db) == []
    released = await client.post(f"/api/v1/orders/{placed.json()['id']}/release", headers=service)
    assert released.json()["customer"]["phone"] == "13800138000"
    assert await _reads(db) == [(placed.json()["id"], "POST /api/v1/orders/{order_id}/release")]
