from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shopflow.core import clock
from shopflow.core.clock import FakeClock
from tests.builders.notify import Mailbox, local_channels

START = datetime(2030, 3, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


@dataclass(frozen=True)
class Outside:
    """The world the notification channels reach: a local SMTP server and the SMS log file."""

    mailbox: Mailbox
    sms_log: Path


@pytest.fixture
def outside(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Outside]:
    """Point the channels' settings (`SHOPFLOW_SMTP_*`, `SHOPFLOW_SMS_*`) at local endpoints."""
    sms_log = tmp_path / "sms.log"
    with local_channels(monkeypatch, sms_log) as mailbox:
        yield Outside(mailbox, sms_log)
