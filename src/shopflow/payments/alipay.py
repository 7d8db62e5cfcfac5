"""Alipay (支付宝) open platform, RSA2 (PAY-1): `alipay.trade.page.pay` / `alipay.trade.wap.pay`,
`alipay.trade.query`, `alipay.trade.refund`, and the asynchronous notification.

Requests are signed over the sorted `k=v` pairs (with `sign_type`, without `sign` and empty
values) with the app's key; notifications are verified with Alipay's public key over the same
string without `sign` and `sign_type`; responses over the raw `*_response` text as it arrived."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from shopflow.core import clock, money
from shopflow.core.errors import AppError, FieldError, Invalid
from shopflow.payments import signing
from shopflow.payments.errors import BadSignature, ForeignNotification
from shopflow.payments.gateway import Event, EventKind, GatewayError, Order, Refunded, Reply, Started
from shopflow.payments.models import payment_number, refund_number

NAME = "alipay"
CALLBACK_PATH = "/api/v1/payments/callbacks/alipay"
BEIJING = ZoneInfo("Asia/Shanghai")
PAID = frozenset({"TRADE_SUCCESS", "TRADE_FINISHED"})
MAX_FEN = 10**12  # more than any trade: a larger amount is malformed, not a mismatch to record
PRODUCTS = {
    "page": ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
    "wap": ("alipay.trade.wap.pay", "QUICK_WAP_WAY"),
}


def signed_content(params: Mapping[str, str], without: frozenset[str]) -> str:
    """The sorted `k=v&k=v` string of the non-empty parameters not in `without`, as signed."""
    return "&".join(f"{key}={value}" for key, value in sorted(params.items()) if value and key not in without)


REQUEST_UNSIGNED = frozenset({"sign"})  # requests sign `sign_type`
NOTIFY_UNSIGNED = frozenset({"sign", "sign_type"})  # notifications do not


def response_content(text: str, node: str) -> str | None:
    """The raw text of `node`'s JSON object in a response, exactly as Alipay signed it."""
    start = text.find(f'"{node}"')
    if start < 0:
        return None
    start = text.find("{", start + len(node) + 2)
    if start < 0:
        return None
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start : index + 1]
    return None


def yuan(amount: int) -> str:
    return money.fmt(amount)


def fen(text: str, field: str) -> int:
    """An amount in yuan ("99.00") as fen; 422 naming `field` otherwise."""
    try:
        value = Decimal(text) * 100
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value != value.to_integral_value() or not 0 <= value <= MAX_FEN:
        raise Invalid("not an amount", errors=[FieldError(field, "must be an amount in yuan")])
    return int(value)


class Alipay:
    """One Alipay app (`app_id`) and the store's keys."""

    name = NAME
    channels = ("page", "wap")

    def __init__(
        self,
        app_id: str,
        private_key: rsa.RSAPrivateKey,
        alipay_key: rsa.RSAPublicKey,
        gateway: str,
        public_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.app_id = app_id
        self.private_key = private_key
        self.alipay_key = alipay_key
        self.gateway = gateway
        self.notify_url = public_url.rstrip("/") + CALLBACK_PATH
        self.transport = transport
        self.timeout = timeout

    def signed(self, method: str, biz: dict[str, Any], **extra: str) -> dict[str, str]:
        """The request's parameters with their `sign`."""
        params = {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": clock.now().astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
            **extra,
        }
        params["sign"] = signing.sign(self.private_key, signed_content(params, REQUEST_UNSIGNED).encode())
        return params

    async def start(self, order: Order) -> Started:
        method, product = PRODUCTS[order.channel or "page"]
        biz = {
            "out_trade_no": order.out_trade_no,
            "total_amount": yuan(order.amount),
            "subject": order.subject,
            "product_code": product,
        }
        params = self.signed(method, biz, notify_url=self.notify_url)
        return Started(pay_url=f"{self.gateway}?{urlencode(params)}")

    async def _call(self, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        """POST a signed request; its `*_response` object once its signature verifies."""
        params = self.signed(method, biz)
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout) as client:
                answer = await client.post(self.gateway, data=params)
        except httpx.HTTPError as exc:
            raise GatewayError(f"{method}: {type(exc).__name__}") from exc
        node = method.replace(".", "_") + "_response"
        content = response_content(answer.text, node)
        try:
            sign = json.loads(answer.text).get("sign") if content is not None else None
        except ValueError:
            sign = None
        if content is None or not isinstance(sign, str):
            raise GatewayError(f"{method}: HTTP {answer.status_code}, no signed {node}")
        if not signing.verify(self.alipay_key, content.encode(), sign):
            raise GatewayError(f"{method}: the response's signature does not verify")
        found = json.loads(content)
        if not isinstance(found, dict):
            raise GatewayError(f"{method}: {node} is not an object")
        return found

    async def query(self, out_trade_no: str) -> Event | None:
        found = await self._call("alipay.trade.query", {"out_trade_no": out_trade_no})
        if found.get("code") != "10000":
            if found.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return None  # the buyer never opened the cashier
            raise GatewayError(f"alipay.trade.query: {found.get('sub_code') or found.get('code')}")
        if found.get("out_trade_no") != out_trade_no:
            raise GatewayError("alipay.trade.query: the answer is about another trade")
        return _trade_event(found, clock.now())

    async def refund(self, key: str, payment_id: int, amount: int, total: int) -> Refunded:
        biz = {
            "out_trade_no": payment_number(payment_id),
            "refund_amount": yuan(amount),
            "out_request_no": refund_number(key),
        }
        found = await self._call("alipay.trade.refund", biz)
        if found.get("code") != "10000":
            raise GatewayError(f"alipay.trade.refund: {found.get('sub_code') or found.get('code')}")
        # 10000 is a refund made, by this call (fund_change Y) or by an earlier one under the same
        # out_request_no (N): Alipay refunds synchronously, no notification follows.
        return Refunded(reference=str(found.get("trade_no", "")), settled=True)

    def parse(self, headers: Mapping[str, str], body: bytes) -> Event | None:
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        sign = params.get("sign", "")
        if not signing.verify(self.alipay_key, signed_content(params, NOTIFY_UNSIGNED).encode(), sign):
            raise BadSignature(
                "the notification's signature does not verify with Alipay's key; nothing was changed",
                errors=[FieldError("sign", "does not verify")],
            )
        if params.get("app_id") != self.app_id:
            raise ForeignNotification(
                "the notification is for another app; nothing was changed",
                errors=[FieldError("app_id", "is not this store's app")],
            )
        if "out_biz_no" in params:
            return None  # a refund's trade update: refunds settle from alipay.trade.refund's answer
        missing = [
            name
            for name in ("out_trade_no", "trade_no", "total_amount", "trade_status")
            if not params.get(name)
        ]
        if missing:
            raise Invalid(
                "incomplete notification", errors=[FieldError(name, "is required") for name in missing]
            )
        return _trade_event(params, clock.now())


def reply(refused: AppError | None) -> Reply:
    """The acknowledgement of a handled notification (`refused` None), or the refusal."""
    if refused is None:
        return Reply(200, b"success", "text/plain")
    return Reply(refused.status, b"failure", "text/plain")


def _trade_event(found: Mapping[str, Any], at: datetime) -> Event | None:
    """A trade's state (a notification's or a query's) as an event: paid, closed, or None (open)."""
    status = str(found.get("trade_status", ""))
    if status in PAID:
        kind = EventKind.PAID
    elif status == "TRADE_CLOSED":
        kind = EventKind.CLOSED
    else:
        return None
    trade_no = str(found.get("trade_no", ""))
    return Event(
        kind=kind,
        event_id=f"{trade_no}:{kind}",
        out_trade_no=str(found.get("out_trade_no", "")),
        reference=trade_no,
        amount=fen(str(found.get("total_amount", "")), "total_amount"),
        at=at.astimezone(UTC),
    )
