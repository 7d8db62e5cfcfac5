from __future__ import annotations

import secrets

from shopflow.core import access, auth
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database


async def bearer(db: Database, role: str = "admin", username: str | None = None) -> dict[str, str]:
    """A new user with `role` and the Authorization header of a token of theirs."""
    name = username or f"{role}-{secrets.token_hex(4)}"
    async with db.transaction() as session:
        await auth.add_user(session, SYSTEM, name, role)
        token = await access.create_token(session, SYSTEM, name, "test")
    return {"Authorization": f"Bearer {token}"}


async def staff(db: Database, role: str, password: str = "secret-pw") -> str:
    """A new console user with `role` and `password`; their username."""
    name = f"{role}-{secrets.token_hex(4)}"
    async with db.transaction() as session:
        await auth.add_user(session, SYSTEM, name, role, password)
    return name
