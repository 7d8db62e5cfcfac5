"""Lead files (CSV), pure: each row checked as the API checks a lead, errors by line number."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from pydantic import ValidationError

from shopflow.core.errors import field_error
from shopflow.crm.leads.models import Source
from shopflow.crm.leads.schemas import LeadIn

COLUMNS = ("name", "phone", "need_tags", "source", "note", "budget", "quantity", "quote_asked")
REQUIRED = ("name", "phone", "need_tags")
TAG_SEPARATORS = ("|", ";", "；", "、")


@dataclass(frozen=True, slots=True)
class RowError:
    line: int  # the file's line, the header being line 1
    reason: str


def _tags(text: str) -> list[str]:
    for separator in TAG_SEPARATORS:
        text = text.replace(separator, ",")
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def parse(text: str) -> tuple[list[tuple[int, LeadIn]], list[RowError]]:
    """The good rows as leads (source `import` unless the row names one) with their line, and
    one error per bad row naming its field ("line 7: phone: String should match …")."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [name for name in REQUIRED if name not in (reader.fieldnames or [])]
    if missing:
        return [], [RowError(1, f"the header lacks {', '.join(missing)} (columns: {', '.join(COLUMNS)})")]
    good: list[tuple[int, LeadIn]] = []
    bad: list[RowError] = []
    for row in reader:
        line = reader.line_num
        values = {key: (value or "").strip() for key, value in row.items() if key in COLUMNS}
        data = {
            "name": values.get("name", ""),
            "phone": values.get("phone", ""),
            "need_tags": _tags(values.get("need_tags", "")),
            "source": values.get("source") or Source.IMPORT,
            "note": values.get("note") or None,
            "budget": values.get("budget") or None,
            "quantity": values.get("quantity") or None,
            "quote_asked": values.get("quote_asked", "").lower() in ("1", "true", "yes", "是"),
        }
        try:
            good.append((line, LeadIn.model_validate(data)))
        except ValidationError as exc:
            reasons = [field_error(e) for e in exc.errors()]
            bad.append(RowError(line, "; ".join(f"{e.field}: {e.message}" for e in reasons)))
    return good, bad
