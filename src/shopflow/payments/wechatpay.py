"""WeChat Pay (微信支付) API v3 (PAY-1): Native (QR code) and H5 prepay, query by out_trade_no,
domestic refunds, and the notifications of payments and refunds.

A request is signed over `METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n` with the merchant's key and
exactly the signed bytes are sent. A response or a notification is verified over
`TIMESTAMP\\nNONCE\\nRAW_BODY\\n` with the key `Wechatpay-Serial` names, a platform certificate's or
the WeChat Pay public key's (`PUB_KEY_ID_…`), both accepted during a switch-over; a timestamp more
than 5 minutes off and a `WECHATPAY/SIGNTEST/` probe signature are refused. A notification's
`resource` is AES-256-GCM under the APIv3 key."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from shopflow.core import clock
from shopflow.core.errors import AppError, FieldError, Invalid
from shopflow.payments import signing
from shopflow.payments.errors import BadSignature, ForeignNotification
from shopflow.payments.gateway import Event, EventKind, GatewayError, Order, Refunded, Reply, Started
from shopflow.payments.models import payment_number, refund_number

NAME = "wechat"
API = "https://api.mch.weixin.qq.com"
CALLBACK_PATH = "/api/v1/payments/callbacks/wechat"
MAX_SKEW_SECONDS = 300  # WeChat Pay's own rule: a signature older (or newer) than 5 minutes is refused
PROBE = "WECHATPAY/SIGNTEST/"
CLOSED = frozenset({"CLOSED", "REVOKED", "PAYERROR"})
MAX_FEN = 10**12  # more than any trade: a larger number is malformed, not a mismatch to record


def request_message(method: str, path_query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What a request's signature covers."""
    return f"{method}\n{path_query}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"


def answer_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """What a response's or a notification's signature covers: the raw body as received."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def decrypt_resource(apiv3_key: bytes, resource: Mapping[str, Any]) -> bytes:
    """The plaintext of a notification's (or a certificate's) `resource`."""
    try:
        ciphertext = base64.b64decode(str(resource["ciphertext"]), validate=True)
        nonce = str(resource["nonce"]).encode()
        associated = str(resource.get("associated_data") or "").encode()
    except (KeyError, binascii.Error) as exc:
        raise signing.DecryptError("the resource is incomplete") from exc
    return signing.aes_gcm_decrypt(apiv3_key, nonce, associated, ciphertext)


class WechatPay:
    """One merchant (`mchid`) paying into one app (`appid`)."""

    name = NAME
    channels = ("native", "h5", "jsapi")

    def __init__(
        self,
        mchid: str,
        appid: str,
        private_key: rsa.RSAPrivateKey,
        serial: str,
        apiv3_key: bytes,
        verifiers: dict[str, rsa.RSAPublicKey],
        public_url: str,
        api: str = API,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.mchid = mchid
        self.appid = appid
        self.private_key = private_key
        self.serial = serial
        self.apiv3_key = apiv3_key
        self.verifiers = verifiers  # Wechatpay-Serial -> key: platform certificates, the public key
        self.notify_url = public_url.rstrip("/") + CALLBACK_PATH
        self.api = api.rstrip("/")
        self.transport = transport
        self.timeout = timeout

    def authorization(self, method: str, path_query: str, body: bytes) -> str:
        timestamp, nonce = str(int(clock.now().timestamp())), secrets.token_hex(16)
        signature = signing.sign(
            self.private_key, request_message(method, path_query, timestamp, nonce, body)
        )
        return (
            f'WECHATPAY2-SHA256-RSA2048 mchid="{self.mchid}",nonce_str="{nonce}",'
            f'signature="{signature}",timestamp="{timestamp}",serial_no="{self.serial}"'
        )

    def jsapi_parameters(self, prepay_id: str) -> dict[str, str]:
        """What the buyer's page passes to WeixinJSBridge `getBrandWCPayRequest` (or wx.requestPayment),
        signed over `appId\ntimeStamp\nnonceStr\npackage\n` with the merchant key."""
        timestamp, nonce, package = (
            str(int(clock.now().timestamp())),
            secrets.token_hex(16),
            f"prepay_id={prepay_id}",
        )
        message = f"{self.appid}\n{timestamp}\n{nonce}\n{package}\n".encode()
        return {
            "appId": self.appid,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": signing.sign(self.private_key, message),
        }

    def unverified(self, headers: Mapping[str, str], body: bytes) -> FieldError | None:
        """Why a signed answer (response or notification) is not to be trusted; None if it is."""
        timestamp = headers.get("Wechatpay-Timestamp", "")
        nonce = headers.get("Wechatpay-Nonce", "")
        signature = headers.get("Wechatpay-Signature", "")
        serial = headers.get("Wechatpay-Serial", "")
        for name, value in (("Wechatpay-Timestamp", timestamp), ("Wechatpay-Nonce", nonce),
                            ("Wechatpay-Signature", signature), ("Wechatpay-Serial", serial)):  # fmt: skip
            if not value:
                return FieldError(name, "is required")
        if signature.startswith(PROBE):
            return FieldError("Wechatpay-Signature", "is a probe signature (WECHATPAY/SIGNTEST/)")
        if not timestamp.isdigit() or abs(clock.now().timestamp() - int(timestamp)) > MAX_SKEW_SECONDS:
            return FieldError("Wechatpay-Timestamp", f"is more than {MAX_SKEW_SECONDS} s from now")
        key = self.verifiers.get(serial)
        if key is None:
            return FieldError("Wechatpay-Serial", "names no platform certificate or public key known here")
        if not signing.verify(key, answer_message(timestamp, nonce, body), signature):
            return FieldError("Wechatpay-Signature", "does not verify")
        return None

    async def _request(self, method: str, path_query: str, payload: dict[str, Any] | None) -> tuple[int, Any]:
        """A signed request; the verified answer's status and JSON."""
        body = (
            b""
            if payload is None
            else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        )
        headers = {
            "Authorization": self.authorization(method, path_query, body),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "shopflow",
        }
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout) as client:
                answer = await client.request(method, self.api + path_query, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise GatewayError(f"{method} {path_query.split('?')[0]}: {type(exc).__name__}") from exc
        problem = self.unverified(answer.headers, answer.content)
        if problem is not None:
            raise GatewayError(f"the answer does not verify: {problem.field} {problem.message}")
        try:
            return answer.status_code, json.loads(answer.content) if answer.content else {}
        except ValueError as exc:
            raise GatewayError("the answer is not JSON") from exc

    def _amount(self, total: int) -> dict[str, Any]:
        return {"total": total, "currency": "CNY"}

    async def start(self, order: Order) -> Started:
        payload: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "description": order.subject[:127],
            "out_trade_no": order.out_trade_no,
            "notify_url": self.notify_url,
            "amount": self._amount(order.amount),
        }
        if order.channel == "jsapi":
            payload["payer"] = {"openid": order.payer}
            status, found = await self._request("POST", "/v3/pay/transactions/jsapi", payload)
            if status == 200 and isinstance(found.get("prepay_id"), str):
                return Started(prepay=self.jsapi_parameters(found["prepay_id"]))
        elif order.channel == "h5":
            payload["scene_info"] = {"payer_client_ip": order.client_ip, "h5_info": {"type": "Wap"}}
            status, found = await self._request("POST", "/v3/pay/transactions/h5", payload)
            if status == 200 and isinstance(found.get("h5_url"), str):
                return Started(pay_url=found["h5_url"])
        else:
            status, found = await self._request("POST", "/v3/pay/transactions/native", payload)
            if status == 200 and isinstance(found.get("code_url"), str):
                return Started(qr_code=found["code_url"])
        raise GatewayError(f"prepay: HTTP {status} {found.get('code', '')}".strip())

    async def query(self, out_trade_no: str) -> Event | None:
        status, found = await self._request(
            "GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={self.mchid}", None
        )
        if status == 404:
            return None  # ORDER_NOT_EXIST: the buyer never paid
        if status != 200:
            raise GatewayError(f"query: HTTP {status} {found.get('code', '')}")
        if (found.get("mchid"), found.get("appid"), found.get("out_trade_no")) != (
            self.mchid,
            self.appid,
            out_trade_no,
        ):
            raise GatewayError("query: the answer is about another trade")
        return _transaction_event(found, clock.now())

    async def refund(self, key: str, payment_id: int, amount: int, total: int) -> Refunded:
        payload = {
            "out_trade_no": payment_number(payment_id),
            "out_refund_no": refund_number(key),
            "notify_url": self.notify_url,
            "amount": {"refund": amount, **self._amount(total)},
        }
        status, found = await self._request("POST", "/v3/refund/domestic/refunds", payload)
        state = found.get("status")
        if status != 200 or state not in ("SUCCESS", "PROCESSING"):
            raise GatewayError(f"refund: HTTP {status} {found.get('code') or state}")
        return Refunded(reference=str(found.get("refund_id", "")), settled=state == "SUCCESS")

    def parse(self, headers: Mapping[str, str], body: bytes) -> Event | None:
        problem = self.unverified(headers, body)
        if problem is not None:
            raise BadSignature("the notification is refused; nothing was changed", errors=[problem])
        try:
            notice = json.loads(body)
            resource = json.loads(decrypt_resource(self.apiv3_key, notice["resource"]))
            event_type = str(notice["event_type"])
            if not isinstance(resource, dict):
                raise TypeError("the resource is not an object")
        except (ValueError, KeyError, TypeError) as exc:  # DecryptError is a ValueError
            raise Invalid(
                "the notification's resource cannot be read", errors=[FieldError("resource", str(exc)[:200])]
            ) from None
        if resource.get("mchid") != self.mchid or (
            event_type.startswith("TRANSACTION.") and resource.get("appid") != self.appid
        ):
            raise ForeignNotification(
                "the notification is for another merchant or app; nothing was changed",
                errors=[FieldError("resource.mchid", "is not this store's merchant or app")],
            )
        match event_type:
            case "TRANSACTION.SUCCESS":
                return _transaction_event(resource, clock.now())
            case "REFUND.SUCCESS":
                return _refund_event(resource, clock.now())
            case _:
                return None  # REFUND.ABNORMAL / REFUND.CLOSED: left pending for a person


def reply(refused: AppError | None) -> Reply:
    """The acknowledgement of a handled notification (`refused` None), or the refusal."""
    if refused is None:
        return Reply(204, b"", None)
    body = json.dumps({"code": "FAIL", "message": refused.detail}, ensure_ascii=False).encode()
    return Reply(refused.status, body, "application/json")


def _total(found: Mapping[str, Any], name: str) -> int:
    amount = found.get("amount")
    value = amount.get(name) if isinstance(amount, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_FEN:
        raise Invalid("no amount", errors=[FieldError(f"amount.{name}", "must be fen, a whole number")])
    return value


def _transaction_event(found: Mapping[str, Any], at: datetime) -> Event | None:
    state = found.get("trade_state")
    if state == "SUCCESS":
        kind = EventKind.PAID
    elif state in CLOSED:
        kind = EventKind.CLOSED
    else:
        return None  # NOTPAY, USERPAYING: still open
    reference = str(found.get("transaction_id") or "")
    return Event(
        kind=kind,
        event_id=f"{reference or found.get('out_trade_no')}:{kind}",
        out_trade_no=str(found.get("out_trade_no", "")),
        reference=reference,
        amount=_total(found, "total"),
        at=at.astimezone(UTC),
    )


def _refund_event(found: Mapping[str, Any], at: datetime) -> Event:
    reference = str(found.get("refund_id", ""))
    return Event(
        kind=EventKind.REFUNDED,
        event_id=f"{reference}:{EventKind.REFUNDED}",
        out_trade_no=str(found.get("out_trade_no", "")),
        reference=reference,
        amount=_total(found, "refund"),
        at=at.astimezone(UTC),
        refund_key=str(found.get("out_refund_no", "")),
    )
