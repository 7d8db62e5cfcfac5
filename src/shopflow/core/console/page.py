"""What a page knows: who asks, in which language, and how to show things to them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, assert_never
from urllib.parse import urlencode

from babel.dates import format_datetime
from babel.lists import format_list
from babel.support import Translations
from fastapi import Request

from shopflow.core import auth, clock, money, personal_data, sla
from shopflow.core.audit import Actor, AuditEntry
from shopflow.core.console.i18n import Label, label, translations
from shopflow.core.console.registry import NavItem, Registry
from shopflow.core.errors import AppError, Forbidden, InvalidTransition

# One way to write a time per language, in the store's zone (Babel patterns).
TIME_FORMATS = {"zh_CN": "yyyy-MM-dd HH:mm", "en": "d MMM yyyy HH:mm"}
CSRF_REFUSED = "csrf"  # the code of the Forbidden a stale or missing CSRF token raises
STATE_FIELDS = ("status", "state")  # an audit row's fields holding its subject's state

ROLES: dict[str, Label] = {
    "admin": label("role", "Administrator"),
    "manager": label("role", "Manager"),
    "sales": label("role", "Sales"),
    "customer_service": label("role", "Customer service"),
    "cs_supervisor": label("role", "Customer-service supervisor"),
    "operations": label("role", "Operations"),
    "warehouse": label("role", "Warehouse"),
    "purchasing": label("role", "Purchasing"),
    "finance": label("role", "Finance"),
}


def local_time(at: datetime | None, locale: str) -> str:
    """A time as the reader's language writes it, in the store's zone: 2026-12-06 14:05 or
    6 Dec 2026 14:05 (the templates' `when` filter)."""
    if at is None:
        return ""
    return format_datetime(at, TIME_FORMATS[locale], tzinfo=clock.store_zone(), locale=locale)


@dataclass
class Console:
    """What a page knows: who asks, in which language, and how to show things to them."""

    request: Request
    actor: Actor | None
    locale: str
    csrf: str
    registry: Registry[Console]
    now: datetime = field(default_factory=clock.now)
    # The page a refused form is shown again for, put back in the address bar (`forms.attempt`).
    address: str | None = None

    @property
    def translations(self) -> Translations:
        return translations(self.locale)

    def gettext(self, message: str, **values: Any) -> str:
        text = self.translations.gettext(message)
        return text % values if values else text

    def viewer(self) -> personal_data.Viewer:
        """Whom this page shows personal data to (RSK-3), and by which route."""
        assert self.actor is not None
        request = self.request
        where = personal_data.endpoint(request.method, request.url.path, request.path_params)
        return personal_data.Viewer(self.actor, where)

    def label(self, marked: Label) -> str:
        return self.translations.pgettext(*marked)

    def labelled(self, labels: Mapping[str, Label], value: str) -> str:
        found = labels.get(value)
        return value if found is None else self.label(found)

    def can(self, permission: str) -> bool:
        return self.actor is not None and auth.allowed(self.actor.role, permission)

    def nav(self) -> list[NavItem]:
        return [item for item in self.registry.nav if self.can(item.permission)]

    def active(self, item: NavItem) -> bool:
        path = self.request.url.path
        return path == item.path if item.path == "/" else path.startswith(item.path)

    def role(self) -> str:
        return "" if self.actor is None else self.labelled(ROLES, self.actor.role)

    def money(self, fen: int) -> str:
        return money.yuan(fen)

    def typed_day(self, typed: str) -> tuple[date | None, str | None]:
        """A day typed as 2026-11-01 (blank: none), or why it is not one."""
        if not typed.strip():
            return None, None
        try:
            return date.fromisoformat(typed.strip()), None
        except ValueError:
            return None, self.gettext("%(value)s is not a date.", value=typed.strip())

    def when(self, at: datetime | None) -> str:
        """A time as the reader's language writes it (`local_time`, the templates' `when`)."""
        return local_time(at, self.locale)

    def duration(self, span: timedelta) -> str:
        minutes = int(abs(span).total_seconds() // 60)
        days, rest = divmod(minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        if days:
            return self.gettext("%(d)d d %(h)d h", d=days, h=hours)
        if hours:
            return self.gettext("%(h)d h %(m)d min", h=hours, m=minutes)
        return self.gettext("%(m)d min", m=minutes)

    def clock(self, found: sla.SlaClock) -> str:
        return self.clock_kind(found.kind)

    def clock_kind(self, kind: str) -> str:
        """A clock's kind as people call it."""
        return self.labelled(self.registry.clocks, kind)

    def alert_kind(self, kind: str) -> str:
        """An alert kind as people call it; a missed deadline names its clock."""
        clock_kind = kind.removeprefix(f"{sla.BREACH_ALERT}.")
        if clock_kind != kind:
            return self.gettext("Deadline missed: %(clock)s", clock=self.clock_kind(clock_kind))
        return self.labelled(self.registry.alert_kinds, kind)

    def states(self, subject: str) -> Mapping[str, Label]:
        """The labels of a kind of subject's states ("order", "shipment")."""
        return self.registry.states.get(subject, {})

    def time_left(self, found: sla.SlaClock) -> tuple[str, str]:
        """A clock's standing and its CSS class: time left, overdue (late), paused, met, missed,
        cancelled (its subject ended early)."""
        if sla.is_late(found, self.now):
            return self.gettext("%(span)s overdue", span=self.duration(self.now - found.deadline)), "late"
        match sla.ClockState(found.state):
            case sla.ClockState.RUNNING:
                return self.gettext("%(span)s left", span=self.duration(found.deadline - self.now)), "running"
            case sla.ClockState.PAUSED:
                return self.gettext("paused"), "paused"
            case sla.ClockState.MET:
                return self.gettext("met"), "met"
            case sla.ClockState.BREACHED:
                return self.gettext("missed"), "missed"
            case sla.ClockState.CANCELLED:
                return self.gettext("cancelled"), "cancelled"
            case unreachable:
                assert_never(unreachable)

    def action(self, entry: AuditEntry) -> str:
        """What an audit row records, as people call it: its action's label, or the state its
        subject entered ("order.confirmed": 已确认)."""
        found = self.registry.actions.get(entry.action)
        if found is not None:
            return self.label(found)
        entered = entry.action.rpartition(".")[2]
        return (
            self.labelled(self.states(entry.entity), entered)
            if entered in self.states(entry.entity)
            else entry.action
        )

    def changes(self, entry: AuditEntry) -> list[tuple[str, str]]:
        """An audit row's fields, each named and shown as before → after (only after when new)."""
        before, after = entry.before or {}, entry.after or {}
        shown = []
        for key in sorted(before.keys() | after.keys()):
            found = self.registry.fields.get(key)
            name = key if found is None else self.label(found.text)
            money_field = found is not None and found.money
            values = [self._value(entry.entity, key, side.get(key), money_field) for side in (before, after)]
            shown.append((name, " → ".join(values) if key in before else values[1]))
        return shown

    def _value(self, entity: str, key: str, value: Any, money_field: bool) -> str:
        match value:
            case None:
                return "—"
            case bool():
                return self.gettext("yes") if value else self.gettext("no")
            case int() if money_field:
                return self.money(value)
            case list():
                return format_list(
                    [self._value(entity, key, item, money_field) for item in value], locale=self.locale
                )
            case dict():
                return "; ".join(f"{k}: {self._value(entity, k, v, money_field)}" for k, v in value.items())
            case _:
                labels = self.states(entity if key in STATE_FIELDS else f"{entity}.{key}")
                return self.labelled(labels, str(value))

    def subject_link(self, subject: str) -> tuple[str | None, str]:
        """The page of a clock's or alert's subject ("order:42") and how to name it."""
        kind, _, key = subject.partition(":")
        known = self.registry.subjects.get(kind)
        if known is None:
            return None, subject
        return known[0].format(id=key), f"{self.label(known[1])} {key}"

    def message(self, text: str) -> str:
        """A service's English message in the reader's language, where the catalogs know it."""
        for pattern, msgid in self.registry.messages:
            found = pattern.fullmatch(text)
            if found is not None:
                return self.gettext(msgid, **found.groupdict())
        return text

    def error(self, exc: AppError) -> str:
        """Why an action was refused, for people."""
        if isinstance(exc, InvalidTransition):
            states = self.states(exc.subject)
            return self.gettext(
                "Not possible now: it is “%(current)s” and cannot become “%(target)s”.",
                current=self.labelled(states, exc.current),
                target=self.labelled(states, exc.target),
            )
        if isinstance(exc, Forbidden) and exc.code == CSRF_REFUSED:
            return self.gettext("The form has expired: reload the page and try again.")
        if isinstance(exc, Forbidden):
            return self.gettext("Your role (%(role)s) may not do this.", role=self.role())
        return self.message(exc.detail)

    def query(self, **changes: Any) -> str:
        """The current page's query string with some parameters changed (pagers, filters)."""
        params = dict(self.request.query_params)
        params.update({key: str(value) for key, value in changes.items()})
        return urlencode({key: value for key, value in params.items() if value != ""})

    def flashes(self) -> list[tuple[str, str]]:
        return [(level, text) for level, text in self.request.session.pop("flash", [])]

    def flash(self, text: str, level: str = "ok") -> None:
        self.request.session["flash"] = [*self.request.session.get("flash", []), (level, text)]
