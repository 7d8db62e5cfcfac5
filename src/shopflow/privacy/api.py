"""A customer's personal data over HTTP (RSK-3): export and erasure."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from shopflow.core import clock
from shopflow.core.api import Session, Viewer, problems, require
from shopflow.core.audit import Actor
from shopflow.core.personal_data import PERMISSION, log
from shopflow.core.schemas import Id, Input
from shopflow.privacy import service

router = APIRouter(tags=["privacy"], responses=problems(401, 403, 404))


class ExportOut(BaseModel):
    customer_id: int
    exported_at: datetime
    records: dict[str, list[dict[str, Any]]]  # by kind, each record's fields as stored


class EraseIn(Input):
    reason: str = Field(min_length=1, max_length=500)  # why (the customer's request, its reference)


class ErasedOut(BaseModel):
    customer_id: int
    erased_at: datetime
    records: dict[str, int]  # rows erased, by kind


@router.get("/customers/{customer_id}/export", response_model=ExportOut, responses=problems(422))
async def export_customer(
    customer_id: Id,
    session: Session,
    actor: Annotated[Actor, require(PERMISSION)],
    viewer: Viewer,
    format: Annotated[
        Literal["json", "zip"], Query(description="json, or a zip of one CSV per kind")
    ] = "json",
) -> Any:
    """RSK-3: everything held about the customer, decrypted: their profiles, phones, orders and
    lines, payments, after-sales cases, tickets and messages, reviews, surveys, leads, quotes,
    contracts, points and coupon uses. Only roles that see personal data may export; the export
    is logged as a read of the customer's personal data."""
    sections = await service.export(session, customer_id)
    log(session, actor, viewer.endpoint, "customer", [customer_id])
    if format == "zip":
        headers = {"Content-Disposition": f'attachment; filename="customer-{customer_id}.zip"'}
        return Response(service.as_zip(sections), media_type="application/zip", headers=headers)
    return ExportOut(customer_id=customer_id, exported_at=clock.now(), records=sections)


@router.post("/customers/{customer_id}/erase", response_model=ErasedOut, responses=problems(409, 422))
async def erase_customer(
    customer_id: Id, data: EraseIn, session: Session, actor: Annotated[Actor, require("customers.erase")]
) -> ErasedOut:
    """RSK-3, manager only: the customer's personal data erased from every record (sealed data
    replaced, the phone's blind indexes replaced, phones deleted), their orders, money and
    history kept; the customer can no longer be found by phone. Audited with who and why; a
    second erasure is 409 `customer_erased`."""
    at, counts = await service.erase(session, actor, customer_id, data.reason)
    return ErasedOut(customer_id=customer_id, erased_at=at, records=counts)
