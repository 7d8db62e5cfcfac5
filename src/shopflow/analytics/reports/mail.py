"""The email of a scheduled report (ANA-4): its subject, a summary as text and HTML (the metric
set against the period before, the top categories; no script), and the XLSX attached."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.analytics.reports import labels
from shopflow.analytics.reports.report import MEDIA_TYPES, Format, Kind, build, filename
from shopflow.analytics.reports.tables import Tables, shown, shown_change, tables
from shopflow.analytics.reports.xlsx import as_xlsx
from shopflow.core import auth, policy
from shopflow.core.console.render import document


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    user_id: int | None  # the staff member it is the address of; None for an address the policy gives


async def recipients(session: AsyncSession) -> list[Recipient]:
    """Each address the policy's `analytics.report_recipients` reach, once (in any case): the
    addresses it gives, and those of the users it names and of the on-duty members of its roles
    (`auth.reachable_owners`: active users with an address)."""
    found: dict[str, Recipient] = {}
    for name in policy.current().analytics.report_recipients:
        if "@" in name:
            found.setdefault(name.lower(), Recipient(name, None))
            continue
        for person in await auth.reachable_owners(session, name):
            found.setdefault(person.email.lower(), Recipient(person.email, person.user_id))
    return list(found.values())


@dataclass(frozen=True, slots=True)
class Mail:
    subject: str
    text: str
    html: str
    filename: str  # the attachment's: shopflow-monthly-2030-03.xlsx
    content_type: str
    attachment: bytes


def _text(t: Tables) -> str:
    lines = [t.title, *t.lines, ""]
    for f in t.figures:
        value, before = shown(f.value, f.unit, t), shown(f.previous, f.unit, t)
        lines.append(
            f"{f.label}: {value} ({t.text(labels.PREVIOUS)} {before}, {shown_change(f.change, f.unit, t)})"
        )
    return "\n".join([*lines, "", t.text(labels.ATTACHED), t.text(labels.DEFINITIONS)])


async def compose(session: AsyncSession, kind: Kind, day: date, locale: str, store: str) -> Mail:
    """The email of the report of `kind` over the period holding `day`, in `locale`, signed by `store`."""
    report = await build(session, kind, day)
    t = tables(report, locale)
    html = document(
        "analytics/report_mail.html", locale, t=t, labels=labels, shown=shown, change=shown_change
    )
    return Mail(
        subject=t.text(labels.MAIL_SUBJECT, store=store, title=t.title),
        text=_text(t),
        html=html,
        filename=filename(kind, report.period, Format.XLSX),
        content_type=MEDIA_TYPES[Format.XLSX],
        attachment=as_xlsx(t),
    )
