"""The worker as it runs for real (real commits: the `committed` fixture): several at once on
PostgreSQL never handle an item twice; `shopflow worker` stops on SIGTERM only once its batch in
progress has committed; killed with SIGKILL mid-batch and restarted, it loses and doubles nothing;
`shopflow serve --with-worker` runs the sweeps beside the API.

A worker's batch is held in the middle by the test, deterministically: on PostgreSQL by a lock on
the alerts table (the batch has cancelled its orders and waits to insert their alerts); on SQLite,
which has no row locks, by the test holding the write lock (the batch waits at its BEGIN).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection
from typer.testing import CliRunner

from shopflow import worker
from shopflow.app import create_app
from shopflow.cli import app as cli
from shopflow.core import clock
from shopflow.core.alerts import Alert
from shopflow.core.audit import AuditEntry
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.events import OutboxEvent
from shopflow.core.settings import get_settings
from shopflow.core.sla.models import SlaClock
from shopflow.inventory.models import Stock
from shopflow.orders.models import Order
from tests.builders.e2e import until
from tests.builders.lifecycle import cancelled_unpaid, place_many, stocked_store
from tests.conftest import IS_POSTGRES, SETTINGS, TEST_URL

WORKER = [sys.executable, "-c", "from shopflow.cli import app; app()", "worker"]
WAIT = 60.0  # seconds any one step may take on a busy machine


async def due_unpaid_orders(db: Database, count: int) -> list[int]:
    """`count` confirmed orders whose pay clocks ran out a while ago, by the real clock."""
    await stocked_store(db, count)
    with clock.use(FakeClock(datetime.now(UTC) - timedelta(hours=2))):
        return await place_many(db, count)


async def outcome(db: Database) -> dict[str, object]:
    """What the worker's handling of the pay clocks leaves behind, per order and in total."""
    async with db.transaction() as session:
        cancellations = Counter(
            (
                await session.scalars(
                    select(AuditEntry.entity_id).where(
                        AuditEntry.entity == "order", AuditEntry.action == "order.cancelled"
                    )
                )
            ).all()
        )
        notices = Counter(
            (
                await session.scalars(
                    select(OutboxEvent.subject).where(OutboxEvent.event == "order.cancelled")
                )
            ).all()
        )
        return {
            "statuses": Counter((await session.scalars(select(Order.status))).all()),
            "clocks": Counter((await session.scalars(select(SlaClock.state))).all()),
            "alerts": int(
                await session.scalar(
                    select(func.count()).select_from(Alert).where(Alert.kind.startswith("sla.breach."))
                )
                or 0
            ),
            "reserved": int(await session.scalar(select(func.sum(Stock.reserved))) or 0),
            "cancelled_per_order": Counter(cancellations.values()),
            "notices_per_order": Counter(notices.values()),
        }


def after_all_cancelled(count: int) -> dict[str, object]:
    return {
        "statuses": Counter({"cancelled": count}),
        "clocks": Counter({"breached": count}),
        "alerts": count,
        "reserved": 0,
        "cancelled_per_order": Counter({1: count}),  # every order cancelled, none twice
        "notices_per_order": Counter({1: count}),
    }


def untouched(count: int) -> dict[str, object]:
    return {
        "statuses": Counter({"confirmed": count}),
        "clocks": Counter({"running": count}),
        "alerts": 0,
        "reserved": count,
        "cancelled_per_order": Counter(),
        "notices_per_order": Counter(),
    }


@pytest.mark.skipif(not IS_POSTGRES, reason="several workers need PostgreSQL's row locks (SQLite runs one)")
async def test_two_workers_handle_1000_due_pay_clocks_each_exactly_once(committed: Database) -> None:
    fake = FakeClock(datetime.now(UTC))
    with clock.use(fake):
        await stocked_store(committed, 1000)
        await place_many(committed, 1000, per_transaction=500)
        fake.advance(minutes=31)
        first, second = Database.from_url(TEST_URL), Database.from_url(TEST_URL)  # two engines
        try:
            handled = await asyncio.gather(
                worker.Worker(first, interval=1.0).drain(worker.sla_breaches),
                worker.Worker(second, interval=1.0).drain(worker.sla_breaches),
            )
        finally:
            await first.dispose()
            await second.dispose()

    assert min(handled) > 0  # both took part, at the same time
    assert sum(handled) == 1000  # no clock claimed by both
    assert await outcome(committed) == after_all_cancelled(1000)


class HeldBatch:
    """Holds a worker's batch in its middle (see the module's docstring) until the block ends."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def reached(self, process: asyncio.subprocess.Process, log: Path) -> None:
        """Wait until the worker `process` is inside its batch, held."""

        async def held() -> bool:
            assert process.returncode is None, read(log)
            return await self._holding(process.pid)

        await until(held, "the worker never reached its batch", WAIT)

    async def cancelled(self) -> int:
        """Orders cancelled so far, read through the holding connection (SQLite has one writer)."""
        stmt = select(func.count()).select_from(Order).where(Order.status == "cancelled")
        return int(await self.connection.scalar(stmt) or 0)

    async def _holding(self, pid: int) -> bool:
        if IS_POSTGRES:
            stmt = (
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'alerts'::regclass "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            return bool(await self.connection.scalar(text(stmt)))
        # SQLite: the worker has opened the database, then at once waits at BEGIN IMMEDIATE.
        if _has_open(pid, str(make_url(TEST_URL).database)):
            await asyncio.sleep(0.5)
            return True
        return False


def _has_open(pid: int, database: str) -> bool:
    """Whether process `pid` has the file `database` open (Linux). A descriptor the process closes
    while it is being read is simply not open."""
    target = os.path.realpath(database)
    return any(_target(fd) == target for fd in Path(f"/proc/{pid}/fd").iterdir())


def _target(fd: Path) -> str | None:
    try:
        return os.readlink(fd)
    except FileNotFoundError:
        return None


def read(log: Path) -> str:
    return log.read_text(errors="replace")


@asynccontextmanager
async def held_batch(db: Database) -> AsyncIterator[HeldBatch]:
    async with db.engine.connect() as connection:
        await connection.begin()  # SQLite: BEGIN IMMEDIATE, the write lock
        if IS_POSTGRES:
            await connection.execute(text("LOCK TABLE alerts IN EXCLUSIVE MODE"))
        yield HeldBatch(connection)
        await connection.rollback()


async def killed_batch_gone(db: Database) -> None:
    """PostgreSQL notices a killed client when its backend next writes to it: wait for that."""
    if not IS_POSTGRES:
        return

    async def gone() -> bool:
        async with db.engine.connect() as connection:
            left = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state <> 'idle'"
                )
            )
        return not left

    await until(gone, "the killed worker's transaction never ended", WAIT)


def environment(directory: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SHOPFLOW_DATABASE_URL": TEST_URL,
        "SHOPFLOW_SECRET_KEY": str(SETTINGS.secret_key),
        "SHOPFLOW_SANDBOX_SECRET": str(SETTINGS.sandbox_secret),
        "SHOPFLOW_DATA_DIR": str(directory),
    }


Spawn = Callable[..., Awaitable[tuple[asyncio.subprocess.Process, Path]]]


@pytest.fixture
async def spawn(tmp_path: Path) -> AsyncIterator[Spawn]:
    """Start `shopflow worker ARGS…`: its process and its output; none outlives the test."""
    started: list[asyncio.subprocess.Process] = []

    async def start(*args: str) -> tuple[asyncio.subprocess.Process, Path]:
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                *WORKER, *args, env=environment(tmp_path), stdout=output, stderr=output
            )
        started.append(process)
        return process, log

    yield start
    for process in started:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def wait_for_line(process: asyncio.subprocess.Process, log: Path, line: str) -> None:
    async def written() -> bool:
        assert process.returncode is None, read(log)
        return line in read(log)

    await until(written, lambda: read(log), WAIT)


async def test_sigterm_stops_the_worker_once_its_batch_in_progress_has_committed(
    committed: Database, spawn: Spawn
) -> None:
    await due_unpaid_orders(committed, 30)

    async with held_batch(committed) as held:
        process, log = await spawn("--interval", "0.2")
        await held.reached(process, log)
        process.send_signal(signal.SIGTERM)
        await wait_for_line(process, log, "stopping after the batch in progress")
        assert await held.cancelled() == 0  # the batch is still open, held by us
    code = await asyncio.wait_for(process.wait(), WAIT)

    assert code == 0, read(log)
    assert await outcome(committed) == after_all_cancelled(30)
    assert "worker stopped" in read(log)


async def test_a_worker_killed_mid_batch_and_restarted_loses_nothing_and_doubles_nothing(
    committed: Database, spawn: Spawn
) -> None:
    await due_unpaid_orders(committed, 30)

    async with held_batch(committed) as held:
        process, log = await spawn("--interval", "0.2")
        await held.reached(process, log)
        process.kill()  # SIGKILL: no clean-up of any kind
        await process.wait()
    await killed_batch_gone(committed)
    assert await outcome(committed) == untouched(30)  # the killed batch left no trace

    restarted, log = await spawn("--once")
    assert await asyncio.wait_for(restarted.wait(), WAIT) == 0, read(log)

    handled = json.loads(read(log).strip().splitlines()[-1])
    assert handled["sla"] == 30
    assert await outcome(committed) == after_all_cancelled(30)


async def test_serve_with_worker_runs_the_sweeps_beside_the_api(committed: Database) -> None:
    fake = FakeClock(datetime.now(UTC))
    with clock.use(fake):
        await stocked_store(committed, 1)
        await place_many(committed, 1)
        fake.advance(minutes=31)
        served = create_app(
            db=committed, settings=SETTINGS.model_copy(update={"worker_interval": 0.05}), with_worker=True
        )

        async def cancelled() -> bool:
            return await cancelled_unpaid(committed) == 1

        async def serve_until_cancelled() -> None:
            async with served.router.lifespan_context(served):  # start-up, then shut-down
                await until(cancelled, "the worker never ran", WAIT)

        await asyncio.wait_for(serve_until_cancelled(), WAIT)  # shut-down stops the worker too


def test_the_worker_refuses_an_interval_that_would_see_breaches_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text("[sla]\nbreach_detection_seconds = 10\n", encoding="utf-8")
    for name, value in {**environment(tmp_path), "SHOPFLOW_POLICY_FILE": str(policy_file)}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        refused = CliRunner().invoke(cli, ["worker", "--interval", "11", "--once"])
        allowed = CliRunner().invoke(cli, ["worker", "--interval", "10", "--once"])
    finally:
        get_settings.cache_clear()

    assert refused.exit_code == 1
    assert "at most 10 s (sla.breach_detection_seconds, SLA-2), not 11 s" in " ".join(refused.output.split())
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.output.splitlines()[-1])["sla"] == 0
