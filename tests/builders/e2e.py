"""Running the application for real inside a test: served by uvicorn over TCP in the test's own
event loop (so an injected clock holds for the server and its worker too), and waiting for what
the worker does in the background."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI


async def until(
    check: Callable[[], Awaitable[bool]], failure: str | Callable[[], str], within: float = 10.0
) -> None:
    """Wait until `check()` is true, at most `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, failure() if callable(failure) else failure
        await asyncio.sleep(0.05)


@asynccontextmanager
async def serving(app: FastAPI, within: float = 30.0) -> AsyncIterator[str]:
    """`app` served on a free local port, its lifespan included (a `with_worker` app runs its
    worker here too); its base URL. Shut down gracefully when the block ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))

    async def started() -> bool:
        if task.done():
            raise AssertionError(f"the server stopped during start-up: {task.exception()!r}")
        return server.started

    try:
        await until(started, "the server did not start", within)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        listener.close()
