"""The providers' cryptography against outside oracles (issue 20): SHA256withRSA of a fixed Alipay
request and a fixed WeChat Pay request equals `openssl dgst -sha256 -sign` of the same bytes (PKCS#1
v1.5 is deterministic), and openssl verifies it; AES-256-GCM opens a published known-answer vector;
Alipay's responses are verified on their raw `*_response` text."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from shopflow.core.settings import Settings
from shopflow.payments import alipay, signing, wechatpay
from tests.builders.providers import rsa_key, write_private, write_public

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is the oracle")

ALIPAY_REQUEST = {
    "app_id": "2014072300007148",
    "method": "alipay.trade.query",
    "format": "JSON",
    "charset": "utf-8",
    "sign_type": "RSA2",
    "timestamp": "2026-12-08 10:00:00",
    "version": "1.0",
    "notify_url": "",
    "biz_content": '{"out_trade_no":"SF000000000042"}',
}
WECHAT_BODY = '{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"订单 SO-42","out_trade_no":"SF000000000042","notify_url":"https://shop.example/api/v1/payments/callbacks/wechat","amount":{"total":9900,"currency":"CNY"}}'


def _openssl_sign(key_file: Path, message: bytes, tmp_path: Path) -> str:
    data = tmp_path / "message.bin"
    data.write_bytes(message)
    raw = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", str(key_file), str(data)], capture_output=True, check=True
    ).stdout
    return base64.b64encode(raw).decode()


def _openssl_verifies(public_file: Path, message: bytes, signature: str, tmp_path: Path) -> bool:
    data, sig = tmp_path / "message.bin", tmp_path / "message.sig"
    data.write_bytes(message)
    sig.write_bytes(base64.b64decode(signature))
    done = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", str(public_file), "-signature", str(sig), str(data)],
        capture_output=True,
    )
    return done.returncode == 0


def test_an_alipay_request_is_signed_as_openssl_signs_its_sorted_string(tmp_path: Path) -> None:
    key_file = write_private(tmp_path / "app.key", rsa_key("alipay-app"), pkcs1=True)
    content = alipay.signed_content(ALIPAY_REQUEST, alipay.REQUEST_UNSIGNED)

    assert content == (
        'app_id=2014072300007148&biz_content={"out_trade_no":"SF000000000042"}&charset=utf-8'
        "&format=JSON&method=alipay.trade.query&sign_type=RSA2&timestamp=2026-12-08 10:00:00&version=1.0"
    )  # sorted, sign_type in, the empty notify_url out
    ours = signing.sign(signing.load_private_key(key_file), content.encode())
    assert ours == _openssl_sign(key_file, content.encode(), tmp_path)
    assert _openssl_verifies(
        write_public(tmp_path / "app.pub", rsa_key("alipay-app")), content.encode(), ours, tmp_path
    )


def test_a_wechat_pay_request_is_signed_as_openssl_signs_its_message(tmp_path: Path) -> None:
    key_file = write_private(tmp_path / "merchant.key", rsa_key("wechat-merchant"))
    message = wechatpay.request_message(
        "POST",
        "/v3/pay/transactions/native",
        "1765159200",
        "593BEC0C930BF1AFEB40B4A08C8FB242",
        WECHAT_BODY.encode(),
    )

    assert message == (
        b"POST\n/v3/pay/transactions/native\n1765159200\n593BEC0C930BF1AFEB40B4A08C8FB242\n"
        + WECHAT_BODY.encode()
        + b"\n"
    )
    ours = signing.sign(signing.load_private_key(key_file), message)
    assert ours == _openssl_sign(key_file, message, tmp_path)


def test_a_resource_opens_as_wechat_pays_go_sdk_opens_its_own_test_vector() -> None:
    """The known answer of WeChat Pay's Go SDK (wechatpay-apiv3/wechatpay-go, utils/aes_test.go:
    APIv3 key "testAPIv3Key0000", nonce, associated data and ciphertext as published there) opens
    to "Hello World"; the SDK's own wrong-key case is refused."""
    resource = {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC",
        "nonce": "wCq51qZv4Yfg",
        "associated_data": "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8",
    }
    assert wechatpay.decrypt_resource(b"testAPIv3Key0000", resource) == b"Hello World"
    with pytest.raises(signing.DecryptError):
        wechatpay.decrypt_resource(b"testAPIv3Key1111", resource)


def test_aes_256_gcm_opens_the_gcm_specifications_test_case_16() -> None:
    """McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", Test Case 16 (256-bit key,
    96-bit IV, associated data): WeChat Pay's AEAD_AES_256_GCM is this mode with a 32-byte key, a
    12-byte nonce and the tag appended to the ciphertext."""
    key = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
    nonce = bytes.fromhex("cafebabefacedbaddecaf888")
    associated = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    ciphertext = bytes.fromhex(
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
    )
    tag = bytes.fromhex("76fc6ece0f4e1768cddf8853bb2d551b")
    plain = bytes.fromhex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
    )

    assert signing.aes_gcm_decrypt(key, nonce, associated, ciphertext + tag) == plain
    with pytest.raises(signing.DecryptError):
        signing.aes_gcm_decrypt(key, nonce, b"other associated data", ciphertext + tag)


@pytest.mark.parametrize("form", ["pkcs8 pem", "pkcs1 pem", "bare base64"])
def test_a_private_key_is_read_in_each_form_the_providers_tools_write(tmp_path: Path, form: str) -> None:
    key = rsa_key("alipay-app")
    path = tmp_path / "key"
    match form:
        case "pkcs8 pem":
            write_private(path, key)
        case "pkcs1 pem":
            write_private(path, key, pkcs1=True)
        case _:
            der = key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            path.write_text(base64.b64encode(der).decode())
    assert signing.load_private_key(path).private_numbers() == key.private_numbers()


def test_an_alipay_response_is_verified_on_its_raw_text_not_a_re_serialisation() -> None:
    raw = '{"code": "10000", "msg": "Success", "note": "a \\"quoted\\" } brace", "total_amount": "99.00"}'
    text = '{"alipay_trade_query_response": ' + raw + ', "sign": "x"}'

    assert alipay.response_content(text, "alipay_trade_query_response") == raw
    assert alipay.response_content(text, "alipay_trade_refund_response") is None


@pytest.mark.parametrize(
    "partial",
    [
        {"alipay_app_id": "2021000000000001"},
        {"wechatpay_mchid": "1900000001", "wechatpay_appid": "wx8888888888888888"},
        {"wechatpay_public_key_id": "PUB_KEY_ID_01"},
    ],
    ids=["alipay without keys", "wechat pay without keys", "a public key id without its key"],
)
def test_a_provider_half_configured_stops_the_process_at_start_up(partial: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings(**partial)  # type: ignore[arg-type]
