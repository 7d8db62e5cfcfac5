"""Test database set-up (ARCHITECTURE rule 10).

SQLite by default; PostgreSQL when SHOPFLOW_TEST_DATABASE_URL is set, and then it must be
reachable. The schema is built by the real Alembic migrations once per run. Each test runs in
one transaction that is rolled back; every unit of work inside it is a savepoint.
Tests that need real commits (concurrency) use the `committed` fixture instead.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shopflow import wiring
from shopflow.app import create_app
from shopflow.core import crypto, policy
from shopflow.core.db import Database, create_engine, upgrade_schema
from shopflow.core.settings import Settings, get_settings
from shopflow.loyalty.campaigns import forget_gifts
from shopflow.payments import gateway, providers
from shopflow.schema import metadata

ROOT = Path(__file__).resolve().parents[1]
_tmp = Path(tempfile.mkdtemp(prefix="shopflow-tests-"))
TEST_URL = os.environ.get("SHOPFLOW_TEST_DATABASE_URL") or f"sqlite:///{_tmp / 'test.db'}"
IS_POSTGRES = TEST_URL.startswith(("postgres://", "postgresql"))
SETTINGS = Settings(
    database_url=TEST_URL,
    secret_key=Fernet.generate_key().decode(),
    sandbox=True,
    sandbox_secret="test-sandbox-secret",
    data_dir=_tmp,
)


async def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    except OSError as exc:  # unreachable server: CI must fail, not skip
        raise pytest.UsageError(f"SHOPFLOW_TEST_DATABASE_URL is unreachable: {exc}") from exc
    finally:
        await engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _schema() -> Iterator[None]:
    crypto.install(SETTINGS.secret_key.encode())  # type: ignore[union-attr]
    wiring.connect()  # what builders place without the app is wired as the app wires it
    if IS_POSTGRES:
        asyncio.run(_reset_postgres(TEST_URL))
    upgrade_schema(TEST_URL)
    yield


@pytest.fixture(scope="session", autouse=True)
def _data_dir() -> Iterator[None]:
    """What reads the process settings (the worker's SMS and email logs, generated secrets) keeps
    its files in this run's temporary directory, not in the checkout's .shopflow/; webhooks may go
    to local receivers."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPFLOW_DATA_DIR", str(_tmp))
        patch.setenv("SHOPFLOW_WEBHOOK_ALLOW_PRIVATE", "true")  # the tests' subscribers listen on 127.0.0.1
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _default_policy() -> Iterator[None]:
    """Each test starts from the default policy, and no process cache holds what an earlier
    test's rolled-back transaction wrote (the gifts on offer)."""
    policy.install(policy.Policy())
    forget_gifts()
    gateway.install(providers.from_settings(SETTINGS))  # the sandbox, as the tests' app has it
    yield
    policy.install(policy.Policy())


@pytest.fixture(scope="session")
async def engine() -> AsyncIterator[AsyncEngine]:
    eng = create_engine(TEST_URL)
    yield eng
    await eng.dispose()


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[Database]:
    """A Database whose every unit of work is a savepoint in one rolled-back transaction."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield Database(engine, bind=connection)
        await transaction.rollback()


async def truncate_all(engine: AsyncEngine) -> None:
    tables = [t.name for t in metadata.sorted_tables]
    async with engine.begin() as conn:
        if IS_POSTGRES:
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            await conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
            for name in reversed(tables):
                await conn.execute(text(f"DELETE FROM {name}"))
            await conn.execute(
                text(
                    # as migration 0024_care leaves it: rows past AUD-1's 3 years may go
                    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                    "WHEN OLD.at > datetime('now', '-3 years') "
                    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
                )
            )


@pytest.fixture
async def committed(engine: AsyncEngine) -> AsyncIterator[Database]:
    """A Database with real commits (for concurrency); every table is emptied afterwards."""
    yield Database(engine)
    await truncate_all(engine)


def make_app(db: Database) -> object:
    return create_app(db=db, settings=SETTINGS)


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(db))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
