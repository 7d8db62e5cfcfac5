from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Scope

from shopflow.core import clock
from shopflow.core.api import PUBLIC, Pages, Session, paged, problem, problems, require
from shopflow.core.audit import Actor
from shopflow.core.db import Database
from shopflow.core.errors import FieldError, Invalid, field_error
from shopflow.core.schemas import Id, Page, When
from shopflow.payments import refunds, sandbox, service
from shopflow.payments.errors import BadSignature, NoGateway
from shopflow.payments.models import CallbackResult, RefundCallbackResult
from shopflow.payments.schemas import (
    CallbackAck,
    CallbackIn,
    PaymentCreated,
    PaymentIn,
    PaymentOut,
    PaymentRefunds,
    ReceiptOut,
    RefundCallbackAck,
    RefundCallbackIn,
    RefundIn,
    RefundOut,
    SandboxComplete,
    SandboxDelivery,
    SandboxRefundComplete,
    SandboxResult,
)

router = APIRouter(tags=["payments"], responses=problems(401))
# The sandbox gateway's routes: included by `create_app` only when `SHOPFLOW_SANDBOX=true`.
sandbox_router = APIRouter(tags=["sandbox"], responses=problems(401))
CALLBACK_PATH = "/api/v1/payments/callbacks/sandbox"
REFUND_CALLBACK_PATH = "/api/v1/payments/callbacks/sandbox/refunds"


@router.post(
    "/orders/{order_id}/payments",
    status_code=201,
    response_model=PaymentCreated,
    responses=problems(403, 404, 409, notes={409: "the order cannot be paid, or no gateway is on"}),
)
async def start_payment(
    order_id: Id,
    data: PaymentIn,
    request: Request,
    session: Session,
    actor: Annotated[Actor, require("payments.create")],
) -> PaymentCreated:
    if not request.app.state.settings.sandbox:
        raise NoGateway("no payment gateway is on (the sandbox needs SHOPFLOW_SANDBOX=true); nothing changed")
    payment = await service.start_payment(session, actor, order_id, data.method)
    base = request.app.state.settings.public_url.rstrip("/")
    return PaymentCreated(
        payment_id=payment.id,
        status=payment.status,
        amount=payment.amount,
        pay_url=f"{base}/api/v1/sandbox/payments/{payment.id}/complete",
    )


@router.get("/orders/{order_id}/payments", response_model=Page[PaymentOut], responses=problems(403, 404))
async def order_payments(
    order_id: Id, session: Session, pages: Pages, _: Annotated[Actor, require("orders.read")]
) -> Page[PaymentOut]:
    found = [PaymentOut.model_validate(p) for p in await service.payments_of(session, order_id)]
    return Page[PaymentOut](**paged(found, pages))


@router.get("/payments/receipts", response_model=Page[ReceiptOut], responses=problems(403))
async def receipts(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("payments.read")],
    received_from: When | None = None,
    received_to: When | None = None,
) -> Page[ReceiptOut]:
    items, total = await service.receipts(session, received_from, received_to, pages.page, pages.page_size)
    return Page[ReceiptOut](**pages.of([ReceiptOut.model_validate(r) for r in items], total))


@router.get("/payments/{payment_id}", response_model=PaymentOut, responses=problems(403, 404))
async def get_payment(
    payment_id: Id, session: Session, _: Annotated[Actor, require("orders.read")]
) -> PaymentOut:
    return PaymentOut.model_validate(await service.get_payment(session, payment_id))


@sandbox_router.post(
    "/payments/callbacks/sandbox",
    response_model=CallbackAck,
    responses=problems(
        401, 404, 409, 422, notes={401: "bad signature", 422: "malformed, or the amount differs"}
    ),
    openapi_extra=PUBLIC,
)
async def sandbox_callback(request: Request, session: Session) -> CallbackAck | Response:
    """The gateway's asynchronous notification (PAY-2): public, but signed."""
    body = await request.body()
    if not sandbox.verify(body, request.headers.get(sandbox.SIGNATURE_HEADER), request.app.state.sandbox_key):
        raise BadSignature(
            "callback signature does not verify; nothing was changed",
            errors=[FieldError(sandbox.SIGNATURE_HEADER, "does not verify")],
        )
    try:
        data = CallbackIn.model_validate_json(body)
    except ValidationError as exc:
        errors = [field_error(e) for e in exc.errors()]
        raise Invalid("malformed callback", errors=errors) from None
    result = await service.apply_callback(session, sandbox.PROVIDER, data)
    if result is CallbackResult.AMOUNT_MISMATCH:
        # Rejected, but the callback record and the alert are kept (the session still commits).
        return problem(
            422,
            "Amount mismatch",
            "the callback amount differs from the payment; rejected and alerted",
            "amount_mismatch",
            [FieldError("amount", "differs from the payment amount")],
        )
    return CallbackAck(event_id=data.event_id, result=result)


@sandbox_router.post(
    "/sandbox/payments/{payment_id}/complete",
    response_model=SandboxResult,
    responses=problems(403, 404, 409),
)
async def sandbox_complete(
    payment_id: Id,
    data: SandboxComplete,
    request: Request,
    _: Annotated[Actor, require("payments.sandbox.complete")],
) -> SandboxResult:
    """Act as the gateway: sign a callback and deliver it to Shopflow's callback endpoint. Marks
    an order paid with no money moving: admin only unless the permission table says otherwise.

    Delivery goes through the application's full ASGI stack in-process (same bytes, headers,
    route and middleware as a network call, no client library or socket: it costs the server no
    more than a network delivery would), so it also works with one server process and in tests.
    """
    db: Database = request.app.state.db
    async with db.transaction() as session:
        asked = await service.amount_of(session, payment_id)
    amount = asked if data.amount is None else data.amount
    body = sandbox.callback_body(payment_id, data.outcome, amount, clock.now())
    deliveries = await _deliver(request, CALLBACK_PATH, body, data.deliveries)
    event_id = CallbackIn.model_validate_json(body).event_id
    return SandboxResult(event_id=event_id, deliveries=deliveries)


async def _deliver(request: Request, path: str, body: bytes, times: int) -> list[SandboxDelivery]:
    """POST the signed `body` to `path` `times` times through the application's own ASGI stack."""
    headers = [
        (b"host", b"sandbox-gateway"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (
            sandbox.SIGNATURE_HEADER.lower().encode(),
            sandbox.sign(body, request.app.state.sandbox_key).encode(),
        ),
    ]
    deliveries = []
    for _attempt in range(times):
        status, reply = await _post_in_process(request.app, path, headers, body)
        deliveries.append(SandboxDelivery(status_code=status, body=json.loads(reply)))
    return deliveries


async def _post_in_process(
    app: ASGIApp, path: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[int, bytes]:
    """One HTTP/1.1 POST handed straight to the ASGI `app` (its middleware, routing and handler
    as for a network request, without a client library or socket in between); its status and
    body. The request's end is reported once the response is complete, as a server does."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 0),
        "server": ("sandbox-gateway", 80),
    }
    sent = False
    status = 500
    chunks: list[bytes] = []
    complete = asyncio.Event()

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await complete.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                complete.set()

    await app(scope, receive, send)
    return status, b"".join(chunks)


# --- the refund ledger (PAY-3) -----------------------------------------------------------------


@router.post(
    "/payments/{payment_id}/refunds",
    status_code=201,
    response_model=RefundOut,
    responses=problems(
        403, 404, 409, 422, notes={409: "more than is refundable, or the key names another refund"}
    ),
)
async def request_refund(
    payment_id: Id,
    data: RefundIn,
    request: Request,
    actor: Annotated[Actor, require("payments.refund")],
    idempotency_key: Annotated[str, Header(min_length=1, max_length=120)],
) -> RefundOut:
    """Refund part or all of a captured payment, once per `Idempotency-Key` (the same key answers
    the same refund; a failed one is retried under it).

    Two transactions: the refund stored and its amount reserved on the payment, committed; then
    the refund handed to the gateway, the payment no longer locked during that call."""
    db: Database = request.app.state.db
    async with db.transaction() as session:
        reserved = await refunds.reserve_refund(
            session, actor, payment_id, data.amount, idempotency_key, data.reason
        )
    if reserved.waiting:
        async with db.transaction() as session:
            return RefundOut.model_validate(await refunds.submit_refund(session, actor, reserved))
    return RefundOut.model_validate(reserved.refund)


@router.get("/payments/{payment_id}/refunds", response_model=PaymentRefunds, responses=problems(403, 404))
async def payment_refunds(
    payment_id: Id, session: Session, _: Annotated[Actor, require("payments.read")]
) -> PaymentRefunds:
    found = await refunds.ledger(session, payment_id)
    return PaymentRefunds(
        payment_id=payment_id,
        captured=found.captured,
        refunded=found.refunded,
        pending=found.pending,
        refundable=found.refundable,
        items=[RefundOut.model_validate(r) for r in found.refunds],
    )


@sandbox_router.post(
    "/payments/callbacks/sandbox/refunds",
    openapi_extra=PUBLIC,
    response_model=RefundCallbackAck,
    responses=problems(401, 404, 422, notes={401: "bad signature", 422: "malformed, or the amount differs"}),
)
async def sandbox_refund_callback(request: Request, session: Session) -> RefundCallbackAck | Response:
    """The gateway's notification of a refund's outcome: public, but signed. Repeats and
    out-of-order deliveries are harmless."""
    body = await request.body()
    if not sandbox.verify(body, request.headers.get(sandbox.SIGNATURE_HEADER), request.app.state.sandbox_key):
        raise BadSignature("callback signature does not verify; nothing was changed")
    try:
        data = RefundCallbackIn.model_validate_json(body)
    except ValidationError as exc:
        raise Invalid("malformed callback", errors=[field_error(e) for e in exc.errors()]) from None
    result = await refunds.apply_callback(session, sandbox.PROVIDER, data)
    if result is RefundCallbackResult.AMOUNT_MISMATCH:
        return problem(
            422,
            "Amount mismatch",
            "the callback amount differs from the refund; rejected and alerted",
            "amount_mismatch",
            [FieldError("amount", "differs from the refund amount")],
        )
    return RefundCallbackAck(event_id=data.event_id, result=result)


@sandbox_router.post(
    "/sandbox/refunds/{refund_id}/complete",
    response_model=SandboxResult,
    responses=problems(403, 404),
)
async def sandbox_refund_complete(
    refund_id: Id,
    data: SandboxRefundComplete,
    request: Request,
    _: Annotated[Actor, require("payments.sandbox.complete")],
) -> SandboxResult:
    """Act as the gateway: settle a refund it holds by a signed callback to Shopflow (as for
    payments, no money moves: admin only unless the permission table says otherwise)."""
    db: Database = request.app.state.db
    async with db.transaction() as session:
        refund = await refunds.get_refund(session, refund_id)
    amount = refund.amount if data.amount is None else data.amount
    reference = sandbox.refund_reference(refund.idempotency_key)
    body = sandbox.refund_callback_body(refund_id, reference, data.outcome, amount, clock.now())
    deliveries = await _deliver(request, REFUND_CALLBACK_PATH, body, data.deliveries)
    event_id = RefundCallbackIn.model_validate_json(body).event_id
    return SandboxResult(event_id=event_id, deliveries=deliveries)
