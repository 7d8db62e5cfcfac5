"""The payment providers of this process, made from its settings (PAY-1): Alipay and WeChat Pay
when configured, the sandbox when `SHOPFLOW_SANDBOX=true`."""

from __future__ import annotations

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from shopflow.core.settings import Settings
from shopflow.payments import signing
from shopflow.payments.alipay import Alipay
from shopflow.payments.gateway import Provider
from shopflow.payments.sandbox import Sandbox
from shopflow.payments.wechatpay import WechatPay


def from_settings(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> dict[str, Provider]:
    """Every provider `settings` configure, by name; `transport` carries their HTTP (tests
    inject one)."""
    found: list[Provider] = []
    if settings.sandbox:
        found.append(Sandbox(settings.sandbox_key(), settings.public_url))
    if settings.alipay_configured:
        assert settings.alipay_private_key_file and settings.alipay_public_key_file and settings.alipay_app_id
        found.append(
            Alipay(
                settings.alipay_app_id,
                signing.load_private_key(settings.alipay_private_key_file),
                signing.load_public_key(settings.alipay_public_key_file),
                settings.alipay_gateway,
                settings.public_url,
                transport,
                settings.provider_timeout,
            )
        )
    if settings.wechatpay_configured:
        found.append(_wechatpay(settings, transport))
    return {provider.name: provider for provider in found}


def _wechatpay(settings: Settings, transport: httpx.AsyncBaseTransport | None) -> WechatPay:
    assert settings.wechatpay_mchid and settings.wechatpay_appid and settings.wechatpay_cert_serial
    assert settings.wechatpay_private_key_file and settings.wechatpay_apiv3_key
    verifiers: dict[str, rsa.RSAPublicKey] = {}
    if settings.wechatpay_platform_cert_dir is not None:
        for path in sorted(settings.wechatpay_platform_cert_dir.glob("*.pem")):
            certificate = x509.load_pem_x509_certificate(path.read_bytes())
            verifiers[signing.certificate_serial(certificate)] = signing.certificate_key(certificate)
    if settings.wechatpay_public_key_file is not None and settings.wechatpay_public_key_id:
        verifiers[settings.wechatpay_public_key_id] = signing.load_public_key(
            settings.wechatpay_public_key_file
        )
    return WechatPay(
        settings.wechatpay_mchid,
        settings.wechatpay_appid,
        signing.load_private_key(settings.wechatpay_private_key_file),
        settings.wechatpay_cert_serial,
        settings.wechatpay_apiv3_key.encode(),
        verifiers,
        settings.public_url,
        settings.wechatpay_api,
        transport,
        settings.provider_timeout,
    )
