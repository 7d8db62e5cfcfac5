"""Process settings from the environment (`SHOPFLOW_*`); business numbers live in `policy`."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPFLOW_", extra="ignore")

    database_url: str = "sqlite:///./shopflow.db"
    # PostgreSQL connections per process; `core.db.default_pool_size()` when unset.
    database_pool_size: int | None = Field(default=None, ge=1)
    # Fernet key for personal data at rest. When unset, one is created once in `data_dir`.
    secret_key: str | None = None
    # The sandbox payment gateway (PAY-1): its routes exist only when this is on (`make run`, the
    # demo, the tests). Off, a server has no way to mark an order paid without real money.
    sandbox: bool = False
    # HMAC key the sandbox gateway signs its callbacks with (PAY-1); created in `data_dir` if unset.
    sandbox_secret: str | None = None
    # Alipay (PAY-1, docs/payments.md): used for method `alipay` once the app id and both keys are
    # set. The app's private key (PKCS#1 or PKCS#8 PEM) and Alipay's public key (not the app's own).
    alipay_app_id: str | None = None
    alipay_private_key_file: Path | None = None
    alipay_public_key_file: Path | None = None
    alipay_gateway: str = Field(default="https://openapi.alipay.com/gateway.do", pattern=r"^https?://")
    # WeChat Pay API v3 (PAY-1, docs/payments.md): used for method `wechat` once the merchant, its
    # key and certificate serial, the APIv3 key and at least one way to verify WeChat Pay (its public
    # key with its id, and/or platform certificates) are set.
    wechatpay_mchid: str | None = None
    wechatpay_appid: str | None = None
    wechatpay_private_key_file: Path | None = None
    wechatpay_cert_serial: str | None = None
    wechatpay_apiv3_key: str | None = Field(default=None, min_length=32, max_length=32)
    wechatpay_public_key_file: Path | None = None
    wechatpay_public_key_id: str | None = Field(default=None, pattern=r"^PUB_KEY_ID_")
    # Platform certificates (PEM files, `*.pem`) in this directory, each named in Wechatpay-Serial by
    # its serial number.
    wechatpay_platform_cert_dir: Path | None = None
    wechatpay_api: str = Field(default="https://api.mch.weixin.qq.com", pattern=r"^https?://")
    # Seconds a request to a payment provider may take before it counts as a time-out.
    provider_timeout: float = Field(default=10.0, gt=0)
    policy_file: Path | None = None
    data_dir: Path = Path(".shopflow")
    public_url: str = "http://127.0.0.1:8000"
    # Seconds the worker waits between rounds of sweeps (at most the policy's SLA-2 detection time).
    worker_interval: float = Field(default=5.0, gt=0)
    # The largest request body accepted, in bytes; a longer one is refused (413) unread.
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    # Notifications (NTF-1): the SMTP relay for email, the SMS provider, webhook requests.
    # Email: "smtp" sends through the relay below; "log" appends each message to `email_log`
    # (`data_dir`/mail.log when unset): the demo (`make run`), or a store without a relay yet.
    email_provider: Literal["smtp", "log"] = "smtp"
    email_log: Path | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "Shopflow <noreply@shopflow.local>"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0
    # SMS: "log" appends one line per message (masked phone, event, reference) to `sms_log`
    # (`data_dir`/sms.log when unset); "http" POSTs {to, text, reference} to `sms_url`, signed
    # with `sms_secret` (HMAC-SHA256, as webhooks are).
    sms_provider: Literal["log", "http"] = "log"
    sms_log: Path | None = None
    sms_url: str | None = Field(default=None, pattern=r"^https?://")
    sms_secret: str | None = Field(default=None, min_length=16)
    webhook_timeout: float = 10.0
    # Webhook subscribers on loopback, private or link-local addresses (an ERP on the store's own
    # network). Off: such a URL is refused when subscribed and when sent to (no requests into the
    # server's own network on a user's say-so).
    webhook_allow_private: bool = False

    @model_validator(mode="after")
    def _sms_gateway_is_complete(self) -> Settings:
        if self.sms_provider == "http" and not (self.sms_url and self.sms_secret):
            raise ValueError("SHOPFLOW_SMS_PROVIDER=http needs SHOPFLOW_SMS_URL and SHOPFLOW_SMS_SECRET")
        return self

    @model_validator(mode="after")
    def _providers_are_complete(self) -> Settings:
        alipay = (self.alipay_app_id, self.alipay_private_key_file, self.alipay_public_key_file)
        if any(alipay) and not all(alipay):
            raise ValueError(
                "Alipay needs SHOPFLOW_ALIPAY_APP_ID, SHOPFLOW_ALIPAY_PRIVATE_KEY_FILE "
                "and SHOPFLOW_ALIPAY_PUBLIC_KEY_FILE together"
            )
        wechat = (
            self.wechatpay_mchid,
            self.wechatpay_appid,
            self.wechatpay_private_key_file,
            self.wechatpay_cert_serial,
            self.wechatpay_apiv3_key,
        )
        if (bool(self.wechatpay_public_key_file) != bool(self.wechatpay_public_key_id)) or (
            any(wechat) and not all(wechat)
        ):
            raise ValueError(
                "WeChat Pay needs SHOPFLOW_WECHATPAY_MCHID, _APPID, _PRIVATE_KEY_FILE, _CERT_SERIAL and "
                "_APIV3_KEY together, and _PUBLIC_KEY_FILE with _PUBLIC_KEY_ID"
            )
        if all(wechat) and not (self.wechatpay_public_key_file or self.wechatpay_platform_cert_dir):
            raise ValueError(
                "WeChat Pay needs SHOPFLOW_WECHATPAY_PUBLIC_KEY_FILE (+ _PUBLIC_KEY_ID) "
                "or SHOPFLOW_WECHATPAY_PLATFORM_CERT_DIR to verify its notifications"
            )
        return self

    @property
    def alipay_configured(self) -> bool:
        return self.alipay_app_id is not None

    @property
    def wechatpay_configured(self) -> bool:
        return self.wechatpay_mchid is not None

    def fernet_key(self) -> bytes:
        if self.secret_key:
            return self.secret_key.encode()
        key_file = self.data_dir / "secret.key"
        if not key_file.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_bytes(Fernet.generate_key())
            key_file.chmod(0o600)
        return key_file.read_bytes().strip()

    def console_secret(self) -> str:
        """The key that signs console session cookies, derived from the secret key (never stored)."""
        return hmac.new(self.fernet_key(), b"shopflow console session", hashlib.sha256).hexdigest()

    def sandbox_key(self) -> bytes:
        if self.sandbox_secret:
            return self.sandbox_secret.encode()
        sandbox_file = self.data_dir / "sandbox.secret"
        if not sandbox_file.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            sandbox_file.write_text(secrets.token_urlsafe(32))
            sandbox_file.chmod(0o600)
        return sandbox_file.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()
