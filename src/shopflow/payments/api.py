from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Scope

from shopflow.core import clock
from shopflow.core.api import PUBLIC, Pages, Session, paged, problem, problems, require
from shopflow.core.audit import Actor
from shopflow.core.db import Database
from shopflow.core.errors import AppError, FieldError, Invalid, field_error
from shopflow.core.schemas import Id, Page, When
from shopflow.payments import alipay, gateway, refunds, sandbox, service, wechatpay
from shopflow.payments.errors import BadSignature, GatewayFailed, NoGateway
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
Replier = Callable[[AppError | None], gateway.Reply]
# The providers' notifications: public, answered in each provider's own format (not problem+json).
notifications_router = APIRouter(tags=["payments"])


@router.post(
    "/orders/{order_id}/payments",
    status_code=201,
    response_model=PaymentCreated,
    responses=problems(
        403,
        404,
        409,
        422,
        502,
        notes={
            409: "the order cannot be paid, or no gateway is on",
            422: "unknown method, or a channel its provider does not offer",
            502: "the provider refused or did not answer (the payment stays pending)",
        },
    ),
)
async def start_payment(
    order_id: Id,
    data: PaymentIn,
    request: Request,
    actor: Annotated[Actor, require("payments.create")],
) -> PaymentCreated:
    """Open a payment of the order's total with the method's provider (Alipay or WeChat Pay when
    configured, else the sandbox when it is on) and tell the buyer where to pay.

    Two steps: the payment stored, committed; then the provider asked to open the trade, no row
    locked during that call."""
    provider = gateway.for_method(request.app.state.providers, data.method)
    if provider is None:
        raise NoGateway(
            f"no payment gateway for {data.method!r} is configured and the sandbox is off "
            "(it needs SHOPFLOW_SANDBOX=true); nothing changed"
        )
    if data.channel is not None and data.channel not in provider.channels:
        raise Invalid(
            f"{provider.name} does not offer {data.channel!r}",
            errors=[FieldError("channel", f"must be one of {', '.join(provider.channels)}")],
        )
    if data.channel == "jsapi" and data.payer_openid is None:
        raise Invalid(
            "a JSAPI payment is paid by a known WeChat user",
            errors=[FieldError("payer_openid", "is required with channel jsapi")],
        )
    db: Database = request.app.state.db
    async with db.transaction() as session:
        payment = await service.start_payment(session, actor, order_id, data.method, provider.name)
    client = request.client.host if request.client else "127.0.0.1"
    asked = gateway.Order(
        payment.id,
        payment.out_trade_no,
        payment.amount,
        f"Order payment {payment.out_trade_no}",
        data.channel,
        client,
        data.payer_openid,
    )
    try:
        started = await provider.start(asked)
    except gateway.GatewayError as exc:
        raise GatewayFailed(f"{provider.name} did not open payment {payment.id}: {exc}") from None
    return PaymentCreated(
        payment_id=payment.id,
        out_trade_no=payment.out_trade_no,
        provider=provider.name,
        status=payment.status,
        amount=payment.amount,
        pay_url=started.pay_url,
        qr_code=started.qr_code,
        prepay=started.prepay,
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
    event = request.app.state.providers[sandbox.PROVIDER].parse(request.headers, await request.body())
    result = await service.apply_event(session, sandbox.PROVIDER, event)
    if result is CallbackResult.AMOUNT_MISMATCH:
        # Rejected, but the callback record and the alert are kept (the session still commits).
        return problem(
            422,
            "Amount mismatch",
            "the callback amount differs from the payment; rejected and alerted",
            "amount_mismatch",
            [FieldError("amount", "differs from the payment amount")],
        )
    return CallbackAck(event_id=event.event_id, result=CallbackResult(result))


async def _notification(request: Request, session: AsyncSession, name: str, reply: Replier) -> Response:
    """A provider's notification: verified on its raw body, applied once; its acknowledgement."""
    provider = request.app.state.providers.get(name)
    refused: AppError | None = None
    if provider is None:
        refused = NoGateway(f"{name} is not configured here; nothing changed")
    else:
        try:
            event = provider.parse(request.headers, await request.body())
            if event is not None:
                result = await service.apply_event(session, name, event)
                if result in (CallbackResult.AMOUNT_MISMATCH, RefundCallbackResult.AMOUNT_MISMATCH):
                    # Rejected, but the callback record and the alert are kept (the session commits).
                    refused = Invalid(
                        "the notified amount differs from ours; rejected and alerted",
                        code="amount_mismatch",
                        errors=[FieldError("amount", "differs from the payment or refund amount")],
                    )
        except AppError as exc:
            refused = exc
    answer = reply(refused)
    return Response(answer.body, answer.status, media_type=answer.media_type)


@notifications_router.post(
    "/payments/callbacks/alipay",
    response_class=PlainTextResponse,
    responses={200: {"description": "`success`: handled"}},
    openapi_extra=PUBLIC,
)
async def alipay_callback(request: Request, session: Session) -> Response:
    """Alipay's asynchronous notification (form body), verified with Alipay's public key: the
    plain text `success` once handled. Refused, the answer is `failure` (Alipay delivers again)
    with the status of the reason: 401 the signature does not verify, 404 not a payment of ours,
    409 Alipay is not configured here, 422 malformed, for another app, or an amount that differs
    (alerted)."""
    return await _notification(request, session, alipay.NAME, alipay.reply)


@notifications_router.post(
    "/payments/callbacks/wechat",
    status_code=204,
    responses={204: {"description": "handled"}},
    openapi_extra=PUBLIC,
)
async def wechat_callback(request: Request, session: Session) -> Response:
    """WeChat Pay's notification of a payment or a refund, verified with the key its
    Wechatpay-Serial names: 204 once handled. Refused, the answer is `{"code": "FAIL", "message":
    …}` (WeChat Pay delivers again) with the status of the reason: 401 the signature does not
    verify, is over 5 minutes off or a probe, 404 not a payment or refund of ours, 409 WeChat Pay
    is not configured here, 422 malformed, for another merchant or app, or an amount that differs
    (alerted)."""
    return await _notification(request, session, wechatpay.NAME, wechatpay.reply)


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
