"""The log of personal data shown unmasked to staff (RSK-3), for the admin: `GET /personal-data-reads`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from shopflow.core import personal_data
from shopflow.core.api import Pages, Session, problems, require
from shopflow.core.audit import Actor
from shopflow.core.auth import NAME_LENGTH
from shopflow.core.schemas import Page

router = APIRouter(tags=["personal data"], responses=problems(401, 403))


class PersonalDataReadOut(BaseModel):
    id: int
    at: datetime
    user: str  # who was shown it
    subject: str  # whose: "order"
    subject_id: int
    endpoint: str  # "GET /api/v1/orders/{order_id}"


@router.get("/personal-data-reads", response_model=Page[PersonalDataReadOut], responses=problems(404))
async def personal_data_reads(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require(personal_data.LOG_PERMISSION)],
    user: Annotated[
        str | None, Query(max_length=NAME_LENGTH, description="only this username's reads")
    ] = None,
) -> Page[PersonalDataReadOut]:
    """Every request that showed a customer's personal data unmasked to staff: one row per record
    shown, newest first; 404 for an unknown `user`."""
    found, total = await personal_data.reads(
        session, username=user, offset=(pages.page - 1) * pages.page_size, limit=pages.page_size
    )
    items = [
        PersonalDataReadOut(
            id=read.id,
            at=read.at,
            user=reader,
            subject=read.subject,
            subject_id=read.subject_id,
            endpoint=read.endpoint,
        )
        for read, reader in found
    ]
    return Page[PersonalDataReadOut](**pages.of(items, total))
