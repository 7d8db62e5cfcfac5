"""Engine, declarative Base with a naming convention, column types, and the session scope."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, Table, event, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, configure_mappers
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


M = TypeVar("M", bound="Base")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# BIGINT on PostgreSQL; INTEGER on SQLite so that it is the rowid alias and autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every database (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def insert_for(session: AsyncSession, model: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (idempotency by unique constraints)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def loaded(model: type[M], values: Mapping[str, Any]) -> M:
    """A `model` instance holding `values` the way a query fills one: written straight into its
    state, without the constructor's change events (a sixth of its cost). For results built from
    rows just written; the instance belongs to no session."""
    configure_mappers()  # as the constructor would: relationships need configured mappers
    instance: M = model.__mapper__.class_manager.new_instance()  # type: ignore[attr-defined]
    instance.__dict__.update(values)
    return instance


def refresh_known(session: AsyncSession, model: type[M], values: Mapping[str, Any]) -> M | None:
    """The session's own instance of the row `values["id"]`, if it holds one, given `values` as
    stored (what a driver-level statement just read or wrote), as `populate_existing` would."""
    known = session.identity_map.get(identity_key(model, values["id"]))
    if known is None:
        return None
    for name, value in values.items():
        set_committed_value(known, name, value)
    instance: M = known  # type: ignore[assignment]
    return instance


def fresh(session: AsyncSession, model: type[M], values: Mapping[str, Any]) -> M:
    """A `model` instance holding `values` just read (and locked) by a driver-level statement:
    the session's own instance refreshed with them when it holds one, else a `loaded` instance
    outside the session."""
    known = refresh_known(session, model, values)
    return loaded(model, values) if known is None else known


def committed(instance: Any, names: Sequence[str]) -> dict[str, Any]:
    """The current values of `names`, marked as stored: for a caller that writes them itself by a
    conditional UPDATE, so that the unit of work never flushes them a second time."""
    values = {name: getattr(instance, name) for name in names}
    for name, value in values.items():
        set_committed_value(instance, name, value)
    state = instance_state(instance)
    if state.modified and not state.committed_state:
        # Nothing of it is left to write: no later flush of the session needs to look at it.
        state._commit_all(state.dict, state._instance_dict())
    return values


def changed(instance: Any) -> dict[str, Any]:
    """The columns set since `instance` was read (what its model methods changed), marked as
    stored (`committed`): for a caller writing them itself by a conditional UPDATE."""
    state = instance_state(instance)
    columns = state.mapper.columns
    # committed_state holds the value each attribute set since the read had then.
    return committed(instance, [name for name in state.committed_state if name in columns])


_DRIVER = "shopflow.driver"  # session.info key: (the transaction, its asyncpg connection)


async def driver_connection(session: AsyncSession) -> asyncpg.Connection | None:
    """PostgreSQL: the asyncpg connection carrying `session`'s transaction; None on SQLite.

    For hot paths: statements sent through it commit or roll back with the session but skip
    SQLAlchemy's per-statement work (measured here: ~50 µs of CPU a statement instead of ~175).
    As before SQLAlchemy's own statements, pending ORM changes are flushed first.
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    if session.autoflush and (session.new or session.dirty or session.deleted):
        await session.flush()
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_DRIVER)
    if cached is not None and cached[0] is transaction:
        driver: asyncpg.Connection = cached[1]
        return driver
    connection = await session.connection()
    adapted = connection.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
    if not adapted._started:
        # SQLAlchemy's asyncpg adapter opens the database transaction lazily, with its first
        # statement; without it each statement sent to the driver would commit on its own. Open
        # it the way that first statement would (the adapter's own step), saving a round trip.
        await adapted._start_transaction()
    driver = connection.sync_connection.connection.driver_connection  # type: ignore[union-attr]
    session.info[_DRIVER] = (session.sync_session.get_transaction(), driver)
    return driver


def placeholders(first: int, count: int) -> str:
    """`$first, …`: `count` positional parameters of a driver-level statement."""
    return ", ".join(f"${i}" for i in range(first, first + count))


@contextmanager
def _integrity_errors(statement: str) -> Iterator[None]:
    """The driver's integrity errors as SQLAlchemy's, which the API renders as 409 Conflict."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(statement, None, exc) from exc


@dataclass(frozen=True, slots=True)
class _RowsInsert:
    sql: str
    columns: tuple[str, ...]
    convert: tuple[Callable[[Any], Any] | None, ...]  # each column type's bind processing
    defaults: dict[str, Any]  # scalar defaults of the columns the rows leave out

    def parameters(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        """The statement's parameters, row after row."""
        values = []
        for row in rows:
            for name, convert in zip(self.columns, self.convert, strict=True):
                value = self.defaults[name] if name in self.defaults else row[name]
                values.append(value if convert is None else convert(value))
        return values


@lru_cache(maxsize=512)
def _rows_insert(
    table: Table,
    keys: frozenset[str],
    count: int,
    dialect: Dialect,
    returning: str | None = None,
    skip_conflicts: bool = False,
    first: int = 1,
) -> _RowsInsert:
    """INSERT INTO table (...) VALUES ($first, ...), ...: `count` rows with `keys`."""
    left_out = [c for c in table.columns if c.name not in keys and c.default is not None]
    computed = [c.name for c in left_out if not c.default.is_scalar]  # type: ignore[union-attr]
    if computed:
        raise ValueError(f"rows for {table.name} must give {computed}: their defaults are computed")
    defaults = {c.name: c.default.arg for c in left_out}  # type: ignore[union-attr]
    columns = tuple(c.name for c in table.columns if c.name in keys or c.name in defaults)
    quote = dialect.identifier_preparer.quote
    width = len(columns)
    rows = ", ".join(f"({placeholders(first + row * width, width)})" for row in range(count))
    sql = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(name) for name in columns)}) VALUES {rows}"
    )
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning is not None:
        sql += f" RETURNING {quote(returning)}"
    convert = tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns)
    return _RowsInsert(sql, columns, convert, defaults)


async def insert_rows(
    session: AsyncSession,
    model: Any,
    rows: Sequence[dict[str, Any]],
    *,
    returning: str | None = None,
    skip_conflicts: bool = False,
) -> list[Any]:
    """INSERT `rows` (dicts with the same keys) into `model`'s table as one statement.

    Returns the `returning` column of the rows stored. `skip_conflicts` skips the rows a unique
    constraint refuses (ON CONFLICT DO NOTHING: idempotency by unique constraints). On PostgreSQL
    the statement goes straight to the driver, its values converted by the columns' own types
    (encryption, JSON, UTC); elsewhere it is SQLAlchemy's bulk INSERT.
    """
    if not rows:
        return []
    driver = await driver_connection(session)
    if driver is None:
        stmt = insert_for(session, model).on_conflict_do_nothing() if skip_conflicts else insert(model)
        if returning is None:
            await session.execute(stmt, list(rows))
            return []
        stmt = stmt.values(list(rows)).returning(model.__table__.c[returning])
        return list((await session.execute(stmt)).scalars())
    dialect = session.get_bind().dialect
    plan = _rows_insert(model.__table__, frozenset(rows[0]), len(rows), dialect, returning, skip_conflicts)
    with _integrity_errors(plan.sql):
        stored = await driver.fetch(plan.sql, *plan.parameters(rows))
    return [record[0] for record in stored]


@lru_cache(maxsize=512)
def _insert_together(
    batches: tuple[tuple[Table, frozenset[str], int], ...], dialect: Dialect
) -> tuple[str, tuple[_RowsInsert, ...]]:
    plans = []
    first = 1
    for table, keys, count in batches:
        plans.append(_rows_insert(table, keys, count, dialect, first=first))
        first += len(plans[-1].columns) * count
    *before, last = (plan.sql for plan in plans)
    if not before:
        return last, tuple(plans)
    return "WITH " + ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(before)) + " " + last, tuple(plans)


async def insert_together(session: AsyncSession, *batches: tuple[Any, Sequence[dict[str, Any]]]) -> None:
    """INSERT several (model, rows) batches, like `insert_rows` each, in one round trip.

    On PostgreSQL one statement whose WITH clauses insert all but the last batch; elsewhere one
    bulk INSERT per batch, in order.
    """
    batches = tuple((model, rows) for model, rows in batches if rows)
    driver = await driver_connection(session)
    if driver is None:
        for model, rows in batches:
            await insert_rows(session, model, rows)
        return
    if not batches:
        return
    shapes = tuple((model.__table__, frozenset(rows[0]), len(rows)) for model, rows in batches)
    sql, plans = _insert_together(shapes, session.get_bind().dialect)
    parameters = []
    for plan, (_, rows) in zip(plans, batches, strict=True):
        parameters += plan.parameters(rows)
    with _integrity_errors(sql):
        await driver.execute(sql, *parameters)


@lru_cache(maxsize=128)
def _insert_linked(
    parent: Table,
    parent_keys: frozenset[str],
    child: Table,
    child_keys: frozenset[str],
    count: int,
    link: str,
    dialect: Dialect,
) -> tuple[str, _RowsInsert, _RowsInsert]:
    """WITH linked AS (INSERT INTO parent ... RETURNING id), children AS (INSERT INTO child ...
    SELECT $n, ..., linked.id FROM linked ...) SELECT id FROM linked."""
    top = _rows_insert(parent, parent_keys, 1, dialect, returning="id")
    first = len(top.columns) + 1
    below = _rows_insert(child, child_keys, count, dialect, first=first)  # its columns and conversions
    width = len(below.columns)
    quote = dialect.identifier_preparer.quote

    def typed(name: str) -> str:
        return child.c[name].type.compile(dialect=dialect)

    selects = []
    for row in range(count):
        values = ", ".join(
            f"CAST(${first + row * width + i} AS {typed(name)})" for i, name in enumerate(below.columns)
        )
        selects.append(f"SELECT {values}, CAST(linked.id AS {typed(link)}) FROM linked")
    columns = ", ".join(quote(name) for name in (*below.columns, link))
    sql = (
        f"WITH linked AS ({top.sql}), children AS (INSERT INTO "
        f"{dialect.identifier_preparer.format_table(child)} ({columns}) {' UNION ALL '.join(selects)})"
        " SELECT id FROM linked"
    )
    return sql, top, below


async def insert_linked(
    session: AsyncSession,
    model: Any,
    row: dict[str, Any],
    child: Any,
    rows: Sequence[dict[str, Any]],
    link: str,
) -> int:
    """INSERT the `row` of `model` and the `rows` of `child` whose column `link` (left out of
    them) is the new row's id (as the column's type: an audit row's `entity_id` text), in one
    round trip on PostgreSQL (one statement); elsewhere `insert_rows` each. The new row's id."""
    driver = await driver_connection(session)
    if driver is None:
        new_id = (await insert_rows(session, model, [row], returning="id"))[0]
        linked = child.__table__.c[link].type.python_type(new_id)
        await insert_rows(session, child, [{**r, link: linked} for r in rows])
        return int(new_id)
    keys = (model.__table__, frozenset(row), child.__table__, frozenset(rows[0]), len(rows), link)
    sql, top, below = _insert_linked(*keys, session.get_bind().dialect)
    with _integrity_errors(sql):
        return int(await driver.fetchval(sql, *top.parameters([row]), *below.parameters(rows)))


_PENDING = "shopflow.pending"  # session.info key: the transaction's PendingRows


class PendingRows:
    """Rows a transaction writes later, all together: the audit, outbox and clock rows that the
    steps of one use case (in several domains) add as they go, written in one round trip by the
    use case's next write through `write`, or at commit by `Database.transaction`.

    A queued row is not visible to queries until it is written."""

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        self._rows: dict[type[Base], list[dict[str, Any]]] = {}

    def add(self, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self._rows.setdefault(model, []).extend(rows)

    def take(self) -> dict[type[Base], list[dict[str, Any]]]:
        """The queued rows by model, in the order they were queued; the queue is empty after."""
        rows, self._rows = self._rows, {}
        return rows


def pending(session: AsyncSession) -> PendingRows:
    """The rows `session`'s transaction has queued (see `PendingRows`)."""
    found: PendingRows | None = session.info.get(_PENDING)
    if found is None:
        found = session.info[_PENDING] = PendingRows()
    return found


def queue(session: AsyncSession, model: type[Base], *rows: dict[str, Any]) -> None:
    """Queue `rows` of `model` for the transaction's next `write` (or its commit)."""
    pending(session).add(model, rows)


async def write(session: AsyncSession, *batches: tuple[type[Base], Sequence[dict[str, Any]]]) -> None:
    """Write the transaction's queued rows and `batches` (model, rows) in one round trip
    (`insert_together`): a model's queued rows go before the rows given here."""
    queued: PendingRows | None = session.info.get(_PENDING)
    together = {} if queued is None else queued.take()
    for model, rows in batches:
        if rows:
            together.setdefault(model, []).extend(rows)
    if together:
        await insert_together(session, *together.items())


@lru_cache(maxsize=256)
def _update_if(
    table: Table, names: tuple[str, ...], column: str, dialect: Dialect
) -> tuple[str, tuple[Callable[[Any], Any] | None, ...]]:
    """UPDATE table SET names = $3, ... WHERE id = $1 AND column = $2, and each value's conversion."""
    quote = dialect.identifier_preparer.quote
    sets = ", ".join(f"{quote(name)} = ${i}" for i, name in enumerate(names, start=3))
    target = dialect.identifier_preparer.format_table(table)
    sql = f"UPDATE {target} SET {sets} WHERE id = $1 AND {quote(column)} = $2"
    return sql, tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)


async def update_if(
    session: AsyncSession, model: Any, row_id: int, condition: tuple[str, Any], values: Mapping[str, Any]
) -> int:
    """One conditional UPDATE of the row `row_id` of `model`'s table: `values` are written if its
    `condition` (column, value) still holds. Returns how many rows changed (0 or 1). On PostgreSQL
    the statement goes straight to the driver, its values converted by the columns' own types."""
    column, expected = condition
    driver = await driver_connection(session)
    if driver is None:
        table = model.__table__
        stmt = update(table).where(table.c.id == row_id, table.c[column] == expected).values(dict(values))
        return int((await session.execute(stmt)).rowcount)
    sql, convert = _update_if(model.__table__, tuple(values), column, session.get_bind().dialect)
    parameters = [v if c is None else c(v) for v, c in zip(values.values(), convert, strict=True)]
    with _integrity_errors(sql):
        status = await driver.execute(sql, row_id, expected, *parameters)
    return int(status.rpartition(" ")[2])


async def update_changed(session: AsyncSession, instance: Any, guard: str) -> int:
    """`update_if` for an instance read (and locked) by its repository: writes the columns set
    since it was read (what its model methods changed) if its `guard` column still holds the value
    it was read with, and marks them as stored (`committed`). Returns how many rows changed."""
    expected = instance_state(instance).committed_state.get(guard, getattr(instance, guard))
    return await update_if(session, type(instance), instance.id, (guard, expected), changed(instance))


def async_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite:///` URLs; Shopflow picks the async driver."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    else:
        raise ValueError(f"unsupported database {backend!r}: use postgresql:// or sqlite:///")
    return parsed.render_as_string(hide_password=False)


def _sqlite_setup(engine: AsyncEngine) -> None:
    # Writers take the lock at BEGIN so read-then-write transactions never fail to upgrade
    # (SQLite's own answer to INV-2 under concurrency); WAL keeps readers unblocked.
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    full = async_url(url)
    if full.startswith("sqlite"):
        engine = create_async_engine(full, **kwargs)
        _sqlite_setup(engine)
        return engine
    kwargs.setdefault("pool_size", default_pool_size())
    # Overflow connections opened and closed under load cost more than waiting for a pooled one.
    kwargs.setdefault("max_overflow", 0)
    return create_async_engine(full, **kwargs)


def default_pool_size() -> int:
    """Connections per process: twice the cores, at least 4.

    Measured on 2 cores, 2 server processes (bench/order_intake.py): 4 a process served 540-636
    orders/s, 10 a process 485-519. Transactions beyond what the cores can run at once only
    queue inside PostgreSQL, for locks and the CPU, and cost it more CPU per order; waiting for
    a pooled connection costs nothing.
    """
    return max(4, 2 * (os.cpu_count() or 1))


class Database:
    """What an entry point needs: an engine and a way to open a unit of work."""

    def __init__(self, engine: AsyncEngine, bind: AsyncEngine | AsyncConnection | None = None):
        self.engine = engine
        options: dict[str, Any] = {"expire_on_commit": False}
        if isinstance(bind, AsyncConnection):
            # Tests: every unit of work is a savepoint inside one rolled-back transaction.
            options["join_transaction_mode"] = "create_savepoint"
        self.sessions = async_sessionmaker(bind=bind or engine, **options)

    @classmethod
    def from_url(cls, url: str, pool_size: int | None = None) -> Database:
        return cls(create_engine(url) if pool_size is None else create_engine(url, pool_size=pool_size))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commit on success, roll back on any error."""
        async with self.sessions() as session:
            try:
                yield session
                await write(session)  # rows still queued (PendingRows) go with the transaction
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()


def upgrade_schema(url: str) -> None:
    """Run the Alembic migrations of the source tree up to the newest revision."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(Path(__file__).resolve().parents[3] / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "heads")
