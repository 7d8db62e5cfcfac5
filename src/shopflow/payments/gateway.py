"""The payment providers behind one interface (PAY-1): start a payment, query it, refund it under
an idempotency key, and read the provider's notification into a normalised event. The sandbox,
Alipay and WeChat Pay implement it; `PROVIDERS` holds the ones this process may use, by name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol

Channel = Literal["page", "wap", "native", "h5", "jsapi"]


class GatewayError(Exception):
    """The provider refused a request, failed, or did not answer in time."""


class EventKind(StrEnum):
    PAID = "paid"
    REFUNDED = "refunded"
    CLOSED = "closed"  # the trade ended unpaid (or the sandbox's failure)


@dataclass(frozen=True, slots=True)
class Event:
    """What a verified notification (or a query) says happened, in Shopflow's terms."""

    kind: EventKind
    event_id: str  # the same for every delivery of the same fact: the idempotency record's key
    out_trade_no: str  # our payment number, as the provider echoes it
    reference: str  # the provider's own number of the trade (or of the refund)
    amount: int  # fen: the trade's total, or the refund's amount
    at: datetime
    refund_key: str | None = None  # a refund's idempotency key (out_request_no / out_refund_no)


@dataclass(frozen=True, slots=True)
class Order:
    """What a provider is asked to collect."""

    payment_id: int
    out_trade_no: str
    amount: int  # fen
    subject: str
    channel: Channel | None
    client_ip: str
    payer: str | None = None  # the buyer's openid under the app (WeChat Pay JSAPI)


@dataclass(frozen=True, slots=True)
class Started:
    """Where the buyer goes next: a page to open, the content of a QR code to scan, or the signed
    parameters the buyer's WeChat page hands to its payment call (JSAPI)."""

    pay_url: str | None = None
    qr_code: str | None = None
    prepay: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Refunded:
    reference: str  # the provider's number of the refund
    settled: bool  # the provider says the money already left (no notification will settle it)


@dataclass(frozen=True, slots=True)
class Reply:
    """The exact acknowledgement a provider expects of a notification (its module's `reply`)."""

    status: int
    body: bytes
    media_type: str | None


class Provider(Protocol):
    name: str
    channels: tuple[Channel, ...]  # the ways it can take the money (`PaymentIn.channel`)

    async def start(self, order: Order) -> Started:
        """Open the trade at the provider. Raises GatewayError."""
        ...

    async def query(self, out_trade_no: str) -> Event | None:
        """The trade's state as an event (paid or closed); None while it is still open or unknown.
        Raises GatewayError."""
        ...

    async def refund(self, key: str, payment_id: int, amount: int, total: int) -> Refunded:
        """Refund `amount` of the payment of `total` under its idempotency `key`: the same key
        twice is one refund at the provider. Raises GatewayError."""
        ...

    def parse(self, headers: Mapping[str, str], body: bytes) -> Event | None:
        """The verified notification's event; None when it is genuine but asks nothing of us.
        Raises an AppError (nothing is changed) when it does not verify or does not fit."""
        ...


# The providers this process refunds through and queries, by `Payment.provider`: installed by
# `create_app` and the worker command from the settings (`providers.from_settings`).
PROVIDERS: dict[str, Provider] = {}


def install(providers: Mapping[str, Provider]) -> None:
    PROVIDERS.clear()
    PROVIDERS.update(providers)


def for_method(providers: Mapping[str, Provider], method: str) -> Provider | None:
    """The provider of a payment method: Alipay or WeChat Pay when configured, else the sandbox
    when it is on, else none."""
    return providers.get(method) or providers.get("sandbox")
