"""SHA256withRSA (Alipay's RSA2, WeChat Pay's v3 signatures), the keys' files, and AES-256-GCM
(WeChat Pay's encrypted resources): the `cryptography` package's primitives, nothing else."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class KeyFileError(ValueError):
    """A key file that holds no RSA key of the expected kind."""


def _pem(text: str, label: str) -> bytes:
    """PEM as given, or the bare base64 body the providers' key tools print, wrapped as `label`."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return text.encode()
    return f"-----BEGIN {label}-----\n{text}\n-----END {label}-----\n".encode()


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    """An RSA private key in PKCS#8 or PKCS#1 PEM (or their bare base64)."""
    text = path.read_text()
    for label in ("PRIVATE KEY", "RSA PRIVATE KEY"):
        try:
            key = serialization.load_pem_private_key(_pem(text, label), password=None)
        except ValueError:
            continue
        if isinstance(key, rsa.RSAPrivateKey):
            return key
    raise KeyFileError(f"{path} holds no RSA private key (PKCS#1 or PKCS#8 PEM)")


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    """An RSA public key: PEM SubjectPublicKeyInfo (or its bare base64), or an X.509 certificate."""
    text = path.read_text()
    if "BEGIN CERTIFICATE" in text:
        return certificate_key(x509.load_pem_x509_certificate(text.encode()))
    try:
        key = serialization.load_pem_public_key(_pem(text, "PUBLIC KEY"))
    except ValueError:
        key = None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyFileError(f"{path} holds no RSA public key")
    return key


def certificate_key(certificate: x509.Certificate) -> rsa.RSAPublicKey:
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyFileError("the certificate's key is not RSA")
    return key


def certificate_serial(certificate: x509.Certificate) -> str:
    """The serial number as WeChat Pay names it in `Wechatpay-Serial`: upper-case hex."""
    return f"{certificate.serial_number:X}"


def sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """SHA256withRSA (PKCS#1 v1.5) of `message`, base64."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


class DecryptError(ValueError):
    """Ciphertext that does not open under the key (tampered, or another key)."""


def aes_gcm_decrypt(key: bytes, nonce: bytes, associated_data: bytes, ciphertext: bytes) -> bytes:
    """AES-GCM: `ciphertext` ends with its 16-byte tag (WeChat Pay's `resource.ciphertext`)."""
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, associated_data)
    except (InvalidTag, ValueError) as exc:
        raise DecryptError("the resource does not decrypt under the APIv3 key") from exc
