"""Traffic count files (CSV), pure: each row checked as the API checks it, errors by line number."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass

from pydantic import ValidationError

from shopflow.analytics.schemas import TrafficIn
from shopflow.core.errors import field_error

COLUMNS = ("date", "channel", "visitors", "inquiries")


@dataclass(frozen=True, slots=True)
class RowError:
    line: int  # the file's line, the header being line 1
    reason: str


def parse(text: str, channels: Collection[str]) -> tuple[list[tuple[int, TrafficIn]], list[RowError]]:
    """The good rows with their line, and one error per bad row naming its field ("line 7:
    visitors: Input should be greater than or equal to 0"); a channel not among `channels` is
    a bad row."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [name for name in COLUMNS if name not in (reader.fieldnames or [])]
    if missing:
        return [], [RowError(1, f"the header lacks {', '.join(missing)} (columns: {', '.join(COLUMNS)})")]
    good: list[tuple[int, TrafficIn]] = []
    bad: list[RowError] = []
    for row in reader:
        line = reader.line_num
        data = {name: (row.get(name) or "").strip() for name in COLUMNS}
        try:
            parsed = TrafficIn.model_validate(data)
        except ValidationError as exc:
            reasons = [field_error(e) for e in exc.errors()]
            bad.append(RowError(line, "; ".join(f"{e.field}: {e.message}" for e in reasons)))
            continue
        if parsed.channel not in channels:
            bad.append(RowError(line, f"channel: unknown channel {parsed.channel!r}"))
            continue
        good.append((line, parsed))
    return good, bad
