"""Personal data at rest: Fernet-encrypted JSON plus a keyed hash to find a record by phone.

A customer's own records are sealed with a key of their own (RSK-3's crypto-shredding): derived
from the secret key and the customer's random `secret` (`customers.secret`), which erasure
destroys, after which what was sealed with it (in any row, a dead tuple or a log) opens to
nothing. A column declares its owner's secret (`SealedFor(owner)`), read in the same SELECT;
a writer hands its value as `Owned(secret, value)`. A value written plainly is sealed with the
secret key alone, as everything was before."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import LargeBinary, Text, column, func, select, table, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

OWNED = b"o:"  # a value sealed with its owner's key starts so (a Fernet token never does)
SECRET_BYTES = 16  # a customer's secret: os.urandom(16), destroyed by erasure
# What an owner's record reads once their secret is destroyed (and what erasure writes over
# records sealed with the secret key alone).
ERASED: dict[str, Any] = {"erased": True}


class Owned(dict[str, Any]):
    """A value to seal with its owner's key: `secret` None (an owner without one) seals it with
    the secret key alone. Reads as the plain dict it holds."""

    def __init__(self, secret: bytes | None, value: dict[str, Any]) -> None:
        super().__init__(value)
        self.secret = secret


class Vault:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self._hash_key = hashlib.sha256(b"shopflow-lookup:" + key).digest()
        self._key = key
        self.owner_fernet = lru_cache(maxsize=4096)(self._owner_fernet)

    def seal(self, data: Any) -> bytes:
        return self._fernet.encrypt(json.dumps(data, ensure_ascii=False).encode())

    def open(self, token: bytes) -> Any:
        return json.loads(self._fernet.decrypt(token))

    def _owner_fernet(self, secret: bytes) -> Fernet:
        own = hmac.new(self._key, b"shopflow owner:" + secret, hashlib.sha256).digest()
        return Fernet(base64.urlsafe_b64encode(own))

    def seal_for(self, secret: bytes | None, data: Any) -> bytes:
        """`data` sealed with the key of the owner whose secret is `secret` (None: the secret key's)."""
        if secret is None:
            return self.seal(data)
        return OWNED + self.owner_fernet(bytes(secret)).encrypt(json.dumps(data, ensure_ascii=False).encode())

    def open_for(self, secret: bytes | None, token: bytes) -> Any:
        """What `seal_for` sealed; ERASED when it was its owner's and their secret is destroyed."""
        if not token.startswith(OWNED):
            return self.open(token)
        if secret is None:
            return dict(ERASED)
        return json.loads(self.owner_fernet(bytes(secret)).decrypt(token[len(OWNED) :]))

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


class _Hex(FunctionElement[str]):
    """Bytes as hex text: hex(x) on SQLite, encode(x, 'hex') on PostgreSQL."""

    type = Text()
    inherit_cache = True


@compiles(_Hex)
def _hex_sqlite(element: _Hex, compiler: Any, **kw: Any) -> str:
    return f"hex({compiler.process(element.clauses, **kw)})"


@compiles(_Hex, "postgresql")
def _hex_postgresql(element: _Hex, compiler: Any, **kw: Any) -> str:
    return f"encode({compiler.process(element.clauses, **kw)}, 'hex')"


class _SealedWithSecret(TypeDecorator[Any]):
    """What an owned column reads as: "<secret hex>:<token hex>", opened here."""

    impl = Text
    cache_ok = True

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        secret, _, token = value.partition(":")
        if not token:  # NULL: SQLite's hex(NULL) is '' (a sealed value is never empty)
            return None
        return vault().open_for(bytes.fromhex(secret) if secret else None, bytes.fromhex(token))


Owner = Callable[[Any], ColumnElement[Any]]  # the owner's secret, given the column's table

_CUSTOMERS = table("customers", column("id"), column("secret", LargeBinary))


def own_secret(table: Any) -> ColumnElement[Any]:
    """The owner of a customer's own row: its `secret` column."""
    return table.c.secret  # type: ignore[no-any-return]


def secret_of_customer(customer_id: ColumnElement[Any]) -> ColumnElement[Any]:
    """The secret of the customer `customer_id` (NULL without one)."""
    return select(_CUSTOMERS.c.secret).where(_CUSTOMERS.c.id == customer_id).scalar_subquery()


def secret_through(owner: Any, key: ColumnElement[Any]) -> ColumnElement[Any]:
    """The secret of the customer of the `owner` row (a table with `id` and `customer_id`) whose
    id is `key`, a column of the row read: one subquery, correlated only to that row."""
    return (
        select(_CUSTOMERS.c.secret)
        .where(_CUSTOMERS.c.id == owner.c.customer_id, owner.c.id == key)
        .correlate_except(_CUSTOMERS, owner)
        .scalar_subquery()
    )


def customer_secret(table: Any) -> ColumnElement[Any]:
    """The owner of a row with a `customer_id`: that customer's secret (NULL without one)."""
    return secret_of_customer(table.c.customer_id)


class Sealed(TypeDecorator[Any]):
    """A column holding JSON that is encrypted before it reaches the database (a value given as
    `Owned` sealed with its owner's key)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        if isinstance(value, Owned):
            return vault().seal_for(value.secret, dict(value))
        return vault().seal(value)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> Any:
        return None if value is None else vault().open(value)


class SealedFor(Sealed):
    """A sealed column whose rows belong to a customer: read with the owner's secret (`owner`,
    given the column's table), in the same SELECT, and opened with the owner's key."""

    cache_ok = True

    def __init__(self, owner: Owner) -> None:
        super().__init__()
        self.owner = owner

    def column_expression(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        secret = func.coalesce(_Hex(self.owner(column.table)), "")  # type: ignore[attr-defined]
        return type_coerce(secret + ":" + _Hex(column), _SealedWithSecret())
