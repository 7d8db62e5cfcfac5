"""Console pages of picking: waves and their pick lists, a pick task's packing, quality check and
shipping, with its packing slip (FUL-1, FUL-2, FUL-4).

Every action calls the service the API calls; a refused action changes nothing and the page says why,
with what was typed kept in its form.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import policy
from shopflow.core.api import Session
from shopflow.core.console.forms import (
    Pager,
    attempt,
    chosen,
    field_errors,
    filled,
    form_errors,
    form_values,
    page_size,
    parsed,
)
from shopflow.core.console.i18n import N_
from shopflow.core.console.page import Console
from shopflow.core.console.render import redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError
from shopflow.fulfillment.console import prints
from shopflow.fulfillment.console.labels import TASK_STATUS, WAVE_STATUS
from shopflow.fulfillment.errors import NoCarrier, TrackingNumberTaken
from shopflow.fulfillment.models.picking import TaskStatus, WaveStatus
from shopflow.fulfillment.schemas import CheckIn, PackIn, ShipIn, WaveBuildIn
from shopflow.fulfillment.service import carriers, packing, shipping, waves
from shopflow.inventory import service as inventory

router = APIRouter(include_in_schema=False)

MESSAGES = (
    (r"no wave (?P<id>\d+)", N_("There is no wave %(id)s.")),
    (r"no pick task (?P<id>\d+)", N_("There is no pick task %(id)s.")),
    (
        r"no carrier rule matches a parcel of (?P<weight>\d+) g to (?P<province>.*) for an order"
        r" of (?P<value>[\d.]+); add a rule or name the carrier",
        N_(
            "No carrier rule matches a parcel of %(weight)s g to %(province)s for an order of"
            " ¥%(value)s: choose the carrier, or ask operations to add a rule."
        ),
    ),
    (
        r"tracking number ['\"](?P<number>.*)['\"] is already used by another parcel",
        N_("Tracking number %(number)s is already used by another parcel."),
    ),
    (
        r"order (?P<number>\S+) holds no stock in this warehouse to ship",
        N_("Order %(number)s holds no stock in this warehouse to ship."),
    ),
    ("Field required", N_("is required")),
    (r"Input should be greater than (?P<n>\d+)", N_("must be more than %(n)s")),
    (r"Input should be less than or equal to (?P<n>\d+)", N_("must be at most %(n)s")),
    (r"String should have at least (?P<n>\d+) characters", N_("at least %(n)s characters")),
    (r"String should match pattern '\^\[A-Za-z0-9-\]\+\$'", N_("only letters, digits and hyphens")),
    (r"List should have at most (?P<n>\d+) items.*", N_("at most %(n)s items")),
    ("a failed check needs a reason", N_("a failed check needs a reason")),
)


# --- waves --------------------------------------------------------------------------------------


async def _waves(
    session: AsyncSession,
    c: Console,
    filters: dict[str, str],
    page: int,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    size = page_size()
    found, total = await waves.list_waves(
        session, chosen(WaveStatus, filters["status"]), filters["warehouse"] or None, page, size
    )
    return render(
        c,
        "fulfillment/waves.html",
        status,
        waves=found,
        pager=Pager(page, size, total),
        filters=filters,
        statuses=WAVE_STATUS,
        warehouses=await inventory.list_warehouses(session),
        wave_size=policy.current().fulfillment.wave_size,
        values=values,
        errors=errors,
    )


@router.get("/fulfillment")
async def wave_list(
    session: Session,
    c: Annotated[Console, can_view("fulfillment.read")],
    status: str = "",
    warehouse: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    return await _waves(session, c, {"status": status, "warehouse": warehouse}, page, {}, {})


@router.post("/fulfillment/waves")
async def create_waves(session: Session, c: Annotated[Console, can_do("fulfillment.work")]) -> Response:
    """FUL-1: paid orders, earliest ship-by first, into one wave per warehouse holding their stock."""
    values = await form_values(c.request)

    async def build() -> Response:
        data = parsed(WaveBuildIn, filled(values, "max_orders"))
        built = await waves.build_waves(session, c.actor, data.max_orders)  # type: ignore[arg-type]
        described = await waves.describe_waves(session, built)
        if described:
            c.flash(
                c.gettext(
                    "Waves created: %(waves)d, with %(orders)d orders to pick.",
                    waves=len(described),
                    orders=sum(wave.orders for wave in described),
                )
            )
        else:
            c.flash(c.gettext("No paid order is waiting to be picked: no wave was created."))
        return redirect("/fulfillment")

    async def refused(exc: AppError) -> Response:
        return await _waves(
            session, c, {"status": "", "warehouse": ""}, 1, values, form_errors(exc, c), exc.status
        )

    return await attempt(c, session, build, refused, address="/fulfillment")


@router.get("/fulfillment/waves/{wave_id}")
async def wave_page(
    wave_id: int, session: Session, c: Annotated[Console, can_view("fulfillment.read")]
) -> HTMLResponse:
    return render(
        c,
        "fulfillment/wave.html",
        wave=await waves.wave_detail(session, wave_id),
        statuses=WAVE_STATUS,
        task_statuses=TASK_STATUS,
    )


@router.get("/fulfillment/waves/{wave_id}/pick-list")
async def pick_list(
    wave_id: int, session: Session, _: Annotated[Console, can_view("fulfillment.read")]
) -> Response:
    return await prints.pick_list(session, wave_id, pdf=False)


@router.get("/fulfillment/waves/{wave_id}/pick-list.pdf")
async def pick_list_pdf(
    wave_id: int, session: Session, _: Annotated[Console, can_view("fulfillment.read")]
) -> Response:
    return await prints.pick_list(session, wave_id, pdf=True)


# --- pick tasks: pack, check, ship --------------------------------------------------------------


async def _task(
    session: AsyncSession,
    c: Console,
    task_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    refusal: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    task = await waves.get_task(session, task_id)
    ship_to: dict[str, Any] = {"carriers": [], "suggested": None, "no_rule": None}
    if task.status == TaskStatus.CHECKED and c.can("fulfillment.work"):
        ship_to["carriers"] = [found for found in await carriers.list_carriers(session) if found.active]
        try:
            ship_to["suggested"] = await shipping.suggested_carrier(session, task)
        except NoCarrier as exc:
            ship_to["no_rule"] = c.error(exc)
    return render(
        c,
        "fulfillment/task.html",
        status,
        task=await waves.describe_task(session, task),
        wave=await waves.get_wave(session, task.wave_id),
        shipment=await shipping.shipment_of_task(session, task.id),
        statuses=TASK_STATUS,
        can_work=c.can("fulfillment.work"),
        values=values or {},
        errors=errors or {},
        refusal=refusal,
        **ship_to,
    )


@router.get("/fulfillment/tasks/{task_id}")
async def task_page(
    task_id: int, session: Session, c: Annotated[Console, can_view("fulfillment.read")]
) -> HTMLResponse:
    return await _task(session, c, task_id)


@router.get("/fulfillment/tasks/{task_id}/packing-slip")
async def packing_slip(
    task_id: int, session: Session, c: Annotated[Console, can_view("fulfillment.read")]
) -> Response:
    return await prints.packing_slip(session, c.viewer(), task_id, pdf=False)


@router.get("/fulfillment/tasks/{task_id}/packing-slip.pdf")
async def packing_slip_pdf(
    task_id: int, session: Session, c: Annotated[Console, can_view("fulfillment.read")]
) -> Response:
    return await prints.packing_slip(session, c.viewer(), task_id, pdf=True)


TaskWork = Callable[[dict[str, str]], Awaitable[str]]  # the form's values -> where to go next


async def _act(
    session: AsyncSession,
    c: Console,
    task_id: int,
    work: TaskWork,
    field: Callable[[str], str] = str,
) -> Response:
    """Run a step of a task; on refusal nothing is kept and the page says why, with what was typed."""
    values = await form_values(c.request)

    async def step() -> Response:
        return redirect(await work(values))

    async def refused(exc: AppError) -> Response:
        errors = field_errors(exc.errors, c, field)
        if isinstance(exc, TrackingNumberTaken):
            errors["tracking_no"] = c.error(exc)
        refusal = None if errors else c.error(exc)
        return await _task(session, c, task_id, values, errors, refusal, exc.status)

    return await attempt(c, session, step, refused, address=f"/fulfillment/tasks/{task_id}")


def _materials(typed: str) -> list[str]:
    """Packing materials as typed: separated by commas (either width), 、 or new lines."""
    return [part.strip() for part in re.split(r"[,，、\n]", typed) if part.strip()]


@router.post("/fulfillment/tasks/{task_id}/pack")
async def pack(task_id: int, session: Session, c: Annotated[Console, can_do("fulfillment.work")]) -> Response:
    async def work(values: dict[str, str]) -> str:
        data = filled(values, "weight_g")
        materials = _materials(values.get("materials", ""))
        packed = parsed(PackIn, {**data, "materials": materials} if materials else data)
        await packing.pack(session, c.actor, task_id, packed)  # type: ignore[arg-type]
        c.flash(c.gettext("Packed, %(weight)d g: waiting for the quality check.", weight=packed.weight_g))
        return f"/fulfillment/tasks/{task_id}"

    return await _act(session, c, task_id, work, lambda name: name.partition("[")[0])


@router.post("/fulfillment/tasks/{task_id}/check")
async def check(
    task_id: int, session: Session, c: Annotated[Console, can_do("fulfillment.work")]
) -> Response:
    """The quality check: passed, the parcel may ship; failed, it and its order go back to picking."""

    async def work(values: dict[str, str]) -> str:
        data = parsed(CheckIn, {"passed": values.get("passed") == "true", **filled(values, "reason")})
        await packing.check(session, c.actor, task_id, data)  # type: ignore[arg-type]
        if data.passed:
            c.flash(c.gettext("Quality check passed: the parcel is ready to ship."))
        else:
            c.flash(c.gettext("Quality check failed: the parcel and its order are back to picking."), "error")
        return f"/fulfillment/tasks/{task_id}"

    return await _act(session, c, task_id, work, lambda name: name or "reason")


@router.post("/fulfillment/tasks/{task_id}/ship")
async def ship(task_id: int, session: Session, c: Annotated[Console, can_do("fulfillment.work")]) -> Response:
    """FUL-4: the checked parcel leaves with the chosen carrier, or the rule's, and its waybill."""

    async def work(values: dict[str, str]) -> str:
        data = parsed(ShipIn, filled(values, "carrier", "tracking_no"))
        shipment = await shipping.ship(session, c.actor, task_id, data)  # type: ignore[arg-type]
        carrier = (await carriers.carriers_by_id(session, {shipment.carrier_id}))[shipment.carrier_id]
        c.flash(
            c.gettext(
                "Shipped with %(carrier)s, tracking number %(number)s.",
                carrier=carrier.name,
                number=shipment.tracking_no,
            )
        )
        return f"/fulfillment/shipments/{shipment.id}"

    return await _act(session, c, task_id, work)
