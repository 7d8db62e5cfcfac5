from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from shopflow.core import clock
from shopflow.core.api import PUBLIC, Pages, Session, paged, problem, problems, require
from shopflow.core.audit import Actor
from shopflow.core.db import Database
from shopflow.core.errors import FieldError, Invalid, field_error
from shopflow.core.schemas import Id, Page, When
from shopflow.payments import sandbox, service
from shopflow.payments.errors import BadSignature
from shopflow.payments.models import CallbackResult
from shopflow.payments.schemas import (
    CallbackAck,
    CallbackIn,
    PaymentCreated,
    PaymentIn,
    PaymentOut,
    ReceiptOut,
    SandboxComplete,
    SandboxDelivery,
    SandboxResult,
)

router = APIRouter(tags=["payments"], responses=problems(401))
CALLBACK_PATH = "/api/v1/payments/callbacks/sandbox"


@router.post(
    "/orders/{order_id}/payments",
    status_code=201,
    response_model=PaymentCreated,
    responses=problems(403, 404, 409),
)
async def start_payment(
    order_id: Id,
    data: PaymentIn,
    request: Request,
    session: Session,
    actor: Annotated[Actor, require("payments.create")],
) -> PaymentCreated:
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


@router.post(
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


@router.post(
    "/sandbox/payments/{payment_id}/complete",
    response_model=SandboxResult,
    tags=["sandbox"],
    responses=problems(403, 404, 409),
)
async def sandbox_complete(
    payment_id: Id,
    data: SandboxComplete,
    request: Request,
    _: Annotated[Actor, require("payments.create")],
) -> SandboxResult:
    """Act as the gateway: sign a callback and deliver it to Shopflow's callback endpoint.

    Delivery goes through the application's full HTTP stack in-process (same bytes, headers
    and route as a network call), so it also works with one server process and in tests.
    """
    db: Database = request.app.state.db
    async with db.transaction() as session:
        payment = await service.get_payment(session, payment_id)
    amount = payment.amount if data.amount is None else data.amount
    body = sandbox.callback_body(payment_id, data.outcome, amount, clock.now())
    headers = {
        "content-type": "application/json",
        sandbox.SIGNATURE_HEADER: sandbox.sign(body, request.app.state.sandbox_key),
    }
    deliveries = []
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox-gateway") as client:
        for _attempt in range(data.deliveries):
            reply = await client.post(CALLBACK_PATH, content=body, headers=headers)
            deliveries.append(SandboxDelivery(status_code=reply.status_code, body=reply.json()))
    event_id = CallbackIn.model_validate_json(body).event_id
    return SandboxResult(event_id=event_id, deliveries=deliveries)
