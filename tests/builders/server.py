"""A real `shopflow serve` in its own process against the test database (committed data)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import SETTINGS, TEST_URL

STARTUP_SECONDS = 60.0


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_command(port: int, workers: int) -> list[str]:
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    script = shutil.which("shopflow", path=str(Path(sys.executable).parent))
    if script is not None:
        return [script, *args]
    return [sys.executable, "-c", "from shopflow.cli import app; app()", *args]


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and its worker processes (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def start(directory: Path, policy: str | None = None, workers: int = 1, *, sandbox: bool = True) -> Server:
    """Serve the test database with the test secrets and, if given, this policy TOML; with the
    sandbox payment gateway unless told otherwise."""
    env = {
        **os.environ,
        "SHOPFLOW_DATABASE_URL": TEST_URL,
        "SHOPFLOW_SECRET_KEY": str(SETTINGS.secret_key),
        "SHOPFLOW_SANDBOX": "true" if sandbox else "false",
        "SHOPFLOW_SANDBOX_SECRET": str(SETTINGS.sandbox_secret),
        "SHOPFLOW_DATA_DIR": str(directory),
    }
    env.pop("SHOPFLOW_POLICY_FILE", None)
    if policy is not None:
        policy_file = directory / "policy.toml"
        policy_file.write_text(policy, encoding="utf-8")
        env["SHOPFLOW_POLICY_FILE"] = str(policy_file)
    port = _free_port()
    log = directory / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            _serve_command(port, workers),
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{server.output()}")
        # Every worker must be up, so that requests really race in several processes.
        if server.output().count("Application startup complete") >= workers:
            try:
                if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"the server did not start within {STARTUP_SECONDS:.0f} s:\n{server.output()}")
