"""What each domain's console adds to the shell, and the one registry `create_app` builds of them.

A domain's console module exposes a `Pages`: its routes, menu entries, labels (states, clocks,
subjects, alert kinds, audit actions and fields), the service messages it translates, and the
panels and columns it shows on an earlier domain's pages, which do not know it (the order page
shows its parcels and payments, the SKU list and page its stock). `app.py` passes every domain's
`Pages` to `Registry.of`; nothing is registered by importing a module.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import alerts
from shopflow.core.console.i18n import N_, Label, label

V = TypeVar("V")
# What a page knows of its reader, handed to every panel and column (`core.console.page.Console`,
# which holds the registry: the registry names it only as this parameter).
C = TypeVar("C")
# A panel of a subject's page: its HTML for one subject ("" when there is nothing to show).
Panel = Callable[[AsyncSession, C, int], Awaitable[str]]
# The cells of a column: subjects by id with the key their pages use (a SKU's code) -> HTML by id.
Cells = Callable[[AsyncSession, C, Mapping[int, str]], Awaitable[Mapping[int, str]]]


@dataclass(frozen=True, slots=True)
class NavItem:
    path: str
    text: Label
    permission: str
    order: int


@dataclass(frozen=True, slots=True)
class Column(Generic[C]):
    """A figure a later domain gives each subject of an earlier one: a column of its list, a fact
    of its page (the SKU list's and page's available stock)."""

    heading: str  # a msgid (marked with N_)
    css: str
    cells: Cells[C]


@dataclass(frozen=True, slots=True)
class AuditField:
    """How an audit row's field is shown: its name, and whether its values are money (fen)."""

    text: Label
    money: bool = False


@dataclass(frozen=True, slots=True)
class Pages(Generic[C]):
    """A domain's part of the console. `messages` are (pattern of the English text a service
    says, msgid with its named groups); `panels` and `columns` are keyed by the page they join.
    `states` also labels the values of an audit row's other fields, as "order.reason"; `actions`
    names audit actions that are not a subject entering a state ("sku.updated")."""

    router: APIRouter | None = None
    nav: Sequence[NavItem] = ()
    states: Mapping[str, Mapping[str, Label]] = field(default_factory=dict)
    clocks: Mapping[str, Label] = field(default_factory=dict)
    subjects: Mapping[str, tuple[str, Label]] = field(default_factory=dict)
    alert_kinds: Mapping[str, Label] = field(default_factory=dict)
    actions: Mapping[str, Label] = field(default_factory=dict)
    fields: Mapping[str, AuditField] = field(default_factory=dict)
    messages: Sequence[tuple[str, str]] = ()
    panels: Mapping[str, Sequence[Panel[C]]] = field(default_factory=dict)
    columns: Mapping[str, Sequence[Column[C]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Registry(Generic[C]):
    """Every domain's part, merged: what the shell and each page look up."""

    routers: list[APIRouter]
    nav: list[NavItem]
    states: dict[str, Mapping[str, Label]]
    clocks: dict[str, Label]
    subjects: dict[str, tuple[str, Label]]
    alert_kinds: dict[str, Label]
    actions: dict[str, Label]
    fields: dict[str, AuditField]
    messages: list[tuple[re.Pattern[str], str]]
    panels: dict[str, list[Panel[C]]]
    columns: dict[str, list[Column[C]]]

    @classmethod
    def of(cls, *parts: Pages[C]) -> Registry[C]:
        panels: dict[str, list[Panel[C]]] = {}
        columns: dict[str, list[Column[C]]] = {}
        for part in parts:
            for page, found in part.panels.items():
                panels.setdefault(page, []).extend(found)
            for page, more in part.columns.items():
                columns.setdefault(page, []).extend(more)
        return cls(
            routers=[part.router for part in parts if part.router is not None],
            nav=sorted((item for part in parts for item in part.nav), key=lambda item: item.order),
            states=_merged(part.states for part in parts),
            clocks=_merged(part.clocks for part in parts),
            subjects=_merged(part.subjects for part in parts),
            alert_kinds=_merged(part.alert_kinds for part in parts),
            actions=_merged(part.actions for part in parts),
            fields=_merged(part.fields for part in parts),
            messages=[(re.compile(pattern), msgid) for part in parts for pattern, msgid in part.messages],
            panels=panels,
            columns=columns,
        )


def _merged(tables: Iterable[Mapping[str, V]]) -> dict[str, V]:
    """One table of the parts' tables; two parts may not name the same key."""
    merged: dict[str, V] = {}
    for table in tables:
        taken = merged.keys() & table.keys()
        if taken:
            raise ValueError(f"registered twice: {', '.join(sorted(taken))}")
        merged.update(table)
    return merged


ALERT_STATES: dict[str, Label] = {
    alerts.AlertState.OPEN: label("alert state", "open"),
    alerts.AlertState.ACKNOWLEDGED: label("alert state", "acknowledged"),
    alerts.AlertState.RESOLVED: label("alert state", "resolved"),
}
# The core's own labels and messages: alerts, and what the sign-in form and every form say.
CORE: Pages[Any] = Pages(
    states={"alert": ALERT_STATES},
    alert_kinds={
        "low_stock": label("alert kind", "Low stock"),
        "payment_amount_mismatch": label("alert kind", "Payment amount mismatch"),
        "payment_for_unpayable_order": label("alert kind", "Payment for an order that cannot take it"),
    },
    fields={
        "status": AuditField(label("audit field", "State")),
        "state": AuditField(label("audit field", "State")),
        "reason": AuditField(label("audit field", "Reason")),
        "name": AuditField(label("audit field", "Name")),
        "deadline": AuditField(label("audit field", "Deadline")),
        "calendar": AuditField(label("audit field", "Calendar")),
    },
    # A business-time clock's deadline after a change of the calendar (SLA-1, `sla.recompute`).
    actions={"sla.recomputed": label("audit action", "deadline recomputed for the new calendar")},
    messages=(
        ("is required", N_("is required")),
        ("must be positive", N_("must be positive")),
        ("wrong username or password", N_("wrong username or password")),
        (
            r"too many failed sign-ins; try again in (?P<seconds>\d+) seconds",
            N_("Too many failed sign-ins. Try again in %(seconds)s seconds."),
        ),
        ("there is nothing at (?P<path>.+)", N_("There is no page at %(path)s.")),
        (
            "(?P<path>.+) does not take (?P<method>.+)",
            N_("%(path)s cannot be opened this way (%(method)s)."),
        ),
    ),
)
