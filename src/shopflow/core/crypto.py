"""Personal data at rest: Fernet-encrypted JSON plus a keyed hash to find a record by phone."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class Vault:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self._hash_key = hashlib.sha256(b"shopflow-lookup:" + key).digest()
        self._key = key

    def seal(self, data: Any) -> bytes:
        return self._fernet.encrypt(json.dumps(data, ensure_ascii=False).encode())

    def open(self, token: bytes) -> Any:
        return json.loads(self._fernet.decrypt(token))

    def lookup_hash(self, value: str) -> str:
        return hmac.new(self._hash_key, value.encode(), hashlib.sha256).hexdigest()

    def derived_key(self, purpose: str) -> bytes:
        """A key of its own for `purpose` (signing customer links), derived from the secret key:
        never stored, the same in every process that holds the secret key."""
        return hmac.new(self._key, f"shopflow {purpose}".encode(), hashlib.sha256).digest()


_vault: Vault | None = None


def install(key: bytes) -> None:
    global _vault
    _vault = Vault(key)


def vault() -> Vault:
    if _vault is None:
        raise RuntimeError("the personal-data key is not installed (core.crypto.install)")
    return _vault


class Sealed(TypeDecorator[Any]):
    """A column holding JSON that is encrypted before it reaches the database."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else vault().seal(value)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> Any:
        return None if value is None else vault().open(value)
