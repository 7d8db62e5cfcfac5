"""Alipay and WeChat Pay played by test code (issue 20): keys generated here, written to the test's
own files; each provider's side signs its notifications and answers requests through an injected
httpx transport, checking the signatures of what it is sent. Nothing reaches the network."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from fastapi import FastAPI

from shopflow.app import create_app
from shopflow.core import clock
from shopflow.core.db import Database
from shopflow.core.settings import Settings
from shopflow.payments import alipay, gateway, providers, signing, wechatpay
from tests.conftest import SETTINGS

ALIPAY_APP_ID = "2021000000000001"
ALIPAY_GATEWAY = "https://alipay.test/gateway.do"
MCHID = "1900000001"
APPID = "wx8888888888888888"
SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
APIV3_KEY = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000000012025010100000000000001"
WECHAT_API = "https://wechatpay.test"


@cache
def rsa_key(role: str) -> rsa.RSAPrivateKey:
    """One 2048-bit key per role per test run, generated here."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_private(path: Path, key: rsa.RSAPrivateKey, *, pkcs1: bool = False) -> Path:
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if pkcs1 else serialization.PrivateFormat.PKCS8
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()))
    return path


def write_public(path: Path, key: rsa.RSAPrivateKey) -> Path:
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path.write_bytes(public)
    return path


def certificate(key: rsa.RSAPrivateKey, serial: int) -> x509.Certificate:
    """A self-signed platform certificate of `key` with `serial`."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA (test)")])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


def provider_settings(tmp_path: Path, *, pkcs1: bool = False) -> Settings:
    """The test settings with Alipay and WeChat Pay configured (both verification modes)."""
    certs = tmp_path / "wechatpay-certs"
    certs.mkdir(exist_ok=True)
    cert = certificate(rsa_key("wechat-platform-cert"), PLATFORM_SERIAL)
    (certs / "platform.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return SETTINGS.model_copy(
        update={
            "alipay_app_id": ALIPAY_APP_ID,
            "alipay_private_key_file": write_private(
                tmp_path / "app.key", rsa_key("alipay-app"), pkcs1=pkcs1
            ),
            "alipay_public_key_file": write_public(tmp_path / "alipay.pub", rsa_key("alipay")),
            "alipay_gateway": ALIPAY_GATEWAY,
            "wechatpay_mchid": MCHID,
            "wechatpay_appid": APPID,
            "wechatpay_private_key_file": write_private(
                tmp_path / "merchant.key", rsa_key("wechat-merchant")
            ),
            "wechatpay_cert_serial": SERIAL,
            "wechatpay_apiv3_key": APIV3_KEY,
            "wechatpay_public_key_file": write_public(tmp_path / "wechatpay.pub", rsa_key("wechat-public")),
            "wechatpay_public_key_id": PUBLIC_KEY_ID,
            "wechatpay_platform_cert_dir": certs,
            "wechatpay_api": WECHAT_API,
        }
    )


PLATFORM_SERIAL = 0x3A6F0C1D2E4B5A697887766554433221
PLATFORM_SERIAL_TEXT = f"{PLATFORM_SERIAL:X}"


def provider_app(db: Database, settings: Settings, transport: httpx.AsyncBaseTransport) -> FastAPI:
    """The app with the configured providers speaking HTTP through `transport` (the fakes)."""
    app = create_app(db=db, settings=settings)
    app.state.providers = providers.from_settings(settings, transport)
    gateway.install(app.state.providers)
    return app


# --- Alipay's side ------------------------------------------------------------------------------


def alipay_notification(
    out_trade_no: str,
    total_amount: str,
    *,
    key: rsa.RSAPrivateKey | None = None,
    trade_status: str = "TRADE_SUCCESS",
    **fields: str,
) -> dict[str, str]:
    """A notification's form fields as Alipay signs them (with its own key unless told)."""
    params = {
        "notify_time": "2026-12-08 10:00:00",
        "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16),
        "app_id": ALIPAY_APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": "2026120822001400000000000001",
        "out_trade_no": out_trade_no,
        "total_amount": total_amount,
        "receipt_amount": total_amount,
        "trade_status": trade_status,
        "subject": "订单 付款",
        "buyer_logon_id": "159****0000",
        "gmt_payment": "2026-12-08 09:59:58",
        "passback_params": "",
        **fields,
    }
    content = alipay.signed_content(params, alipay.NOTIFY_UNSIGNED)
    params["sign"] = signing.sign(key or rsa_key("alipay"), content.encode())
    return params


def form(params: dict[str, str]) -> bytes:
    return urlencode(params).encode()


@dataclass
class FakeAlipay:
    """Alipay's open gateway: verifies each request with the app's public key, knows refunds by
    out_request_no, and answers signed, in its own spacing (a re-serialised answer would not
    verify). `timeouts`: how many refund answers are lost after the refund was made."""

    timeouts: int = 0
    trades: dict[str, dict[str, str]] = field(default_factory=dict)  # out_trade_no -> trade
    refunds: dict[str, str] = field(default_factory=dict)  # out_request_no -> refund_amount
    calls: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, node: str, content: dict[str, Any]) -> httpx.Response:
        raw = json.dumps(content, ensure_ascii=False, separators=(", ", ": "))
        sign = signing.sign(rsa_key("alipay"), raw.encode())
        return httpx.Response(200, text=f'{{"{node}": {raw}, "sign": "{sign}"}}')

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(parse_qsl(request.content.decode()))
        content = alipay.signed_content(params, alipay.REQUEST_UNSIGNED).encode()
        assert signing.verify(rsa_key("alipay-app").public_key(), content, params["sign"]), "bad request sign"
        biz = json.loads(params["biz_content"])
        self.calls.append({"method": params["method"], **biz})
        node = params["method"].replace(".", "_") + "_response"
        if params["method"] == "alipay.trade.query":
            trade = self.trades.get(biz["out_trade_no"])
            if trade is None:
                return self.answer(
                    node, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"}
                )
            return self.answer(node, {"code": "10000", "msg": "Success", **trade})
        assert params["method"] == "alipay.trade.refund"
        new = biz["out_request_no"] not in self.refunds
        self.refunds.setdefault(biz["out_request_no"], biz["refund_amount"])
        if self.timeouts:
            self.timeouts -= 1
            raise httpx.ReadTimeout("the answer never came", request=request)
        return self.answer(
            node,
            {
                "code": "10000",
                "msg": "Success",
                "trade_no": "2026120822001400000000000001",
                "out_trade_no": biz["out_trade_no"],
                "refund_fee": biz["refund_amount"],
                "fund_change": "Y" if new else "N",
            },
        )


# --- WeChat Pay's side --------------------------------------------------------------------------


def encrypt_resource(plain: dict[str, Any], associated: str = "transaction") -> dict[str, str]:
    nonce = secrets.token_hex(6)
    sealed = AESGCM(APIV3_KEY.encode()).encrypt(
        nonce.encode(), json.dumps(plain).encode(), associated.encode()
    )
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(sealed).decode(),
        "associated_data": associated,
        "original_type": associated,
        "nonce": nonce,
    }


def wechat_signed(
    body: bytes,
    *,
    key: rsa.RSAPrivateKey | None = None,
    serial: str = PUBLIC_KEY_ID,
    at: datetime | None = None,
    signature: str | None = None,
) -> dict[str, str]:
    """The Wechatpay-* headers of `body`, signed with the WeChat Pay public key's private half
    (or `key`), `at` now unless told."""
    timestamp = str(int((at or clock.now()).timestamp()))
    nonce = secrets.token_hex(16)
    signer = key or rsa_key("wechat-public")
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature": signature
        or signing.sign(signer, wechatpay.answer_message(timestamp, nonce, body)),
        "Content-Type": "application/json",
    }


def transaction(out_trade_no: str, total: int, **fields: Any) -> dict[str, Any]:
    return {
        "appid": APPID,
        "mchid": MCHID,
        "out_trade_no": out_trade_no,
        "transaction_id": "4200000000202612080000000001",
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "success_time": "2026-12-08T10:00:00+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"},
        **fields,
    }


def wechat_notification(resource: dict[str, Any], event_type: str = "TRANSACTION.SUCCESS") -> bytes:
    kind = "refund" if event_type.startswith("REFUND") else "transaction"
    return json.dumps(
        {
            "id": secrets.token_hex(18),
            "create_time": "2026-12-08T10:00:01+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功",
            "resource": encrypt_resource(resource, kind),
        },
        ensure_ascii=False,
    ).encode()


@dataclass
class FakeWechatPay:
    """WeChat Pay's API: checks each request's Authorization over the bytes it received, answers
    signed with the public key (or the platform certificate), knows refunds by out_refund_no.
    `timeouts`: how many refund answers are lost after the refund was made."""

    timeouts: int = 0
    trades: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, int] = field(default_factory=dict)  # out_refund_no -> fen
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    answer_with: Callable[[bytes], dict[str, str]] = wechat_signed

    def check(self, request: httpx.Request) -> None:
        scheme, _, rest = request.headers["Authorization"].partition(" ")
        assert scheme == "WECHATPAY2-SHA256-RSA2048"
        parts = dict(part.split("=", 1) for part in rest.split(","))
        fields = {name: value.strip('"') for name, value in parts.items()}
        assert (fields["mchid"], fields["serial_no"]) == (MCHID, SERIAL)
        path = request.url.raw_path.decode()
        message = wechatpay.request_message(
            request.method, path, fields["timestamp"], fields["nonce_str"], request.content
        )
        assert signing.verify(rsa_key("wechat-merchant").public_key(), message, fields["signature"]), (
            "bad sign"
        )

    def answer(self, status: int, content: dict[str, Any]) -> httpx.Response:
        body = json.dumps(content, ensure_ascii=False).encode()
        return httpx.Response(status, content=body, headers=self.answer_with(body))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.check(request)
        payload = json.loads(request.content) if request.content else {}
        self.calls.append((request.method, request.url.path, payload))
        path = request.url.path
        if path == "/v3/pay/transactions/jsapi":
            return self.answer(200, {"prepay_id": "wx201410272009395522657a690389285100"})
        if path == "/v3/pay/transactions/native":
            return self.answer(
                200, {"code_url": "weixin://wxpay/bizpayurl?pr=test" + payload["out_trade_no"]}
            )
        if path.startswith("/v3/pay/transactions/out-trade-no/"):
            trade = self.trades.get(path.rsplit("/", 1)[1])
            if trade is None:
                return self.answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
            return self.answer(200, trade)
        assert path == "/v3/refund/domestic/refunds"
        number = payload["out_refund_no"]
        self.refunds.setdefault(number, payload["amount"]["refund"])
        if self.timeouts:
            self.timeouts -= 1
            raise httpx.ReadTimeout("the answer never came", request=request)
        return self.answer(
            200,
            {
                "refund_id": "50000000382019052709732678859",
                "out_refund_no": number,
                "out_trade_no": payload["out_trade_no"],
                "status": "PROCESSING",
                "amount": {"refund": payload["amount"]["refund"], "total": payload["amount"]["total"]},
            },
        )


@dataclass
class Fakes:
    """Both providers behind one transport, by host."""

    alipay: FakeAlipay = field(default_factory=FakeAlipay)
    wechat: FakeWechatPay = field(default_factory=FakeWechatPay)

    def transport(self) -> httpx.MockTransport:
        def route(request: httpx.Request) -> httpx.Response:
            return self.alipay(request) if request.url.host == "alipay.test" else self.wechat(request)

        return httpx.MockTransport(route)
