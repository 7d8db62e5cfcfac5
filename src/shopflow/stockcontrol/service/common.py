"""What counts and transfers share: warehouses by code and id, SKUs named in their input."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import service as catalog
from shopflow.catalog.models import Sku
from shopflow.core.errors import FieldError
from shopflow.inventory import service as inventory
from shopflow.inventory.models import Warehouse


async def warehouses(session: AsyncSession) -> dict[int, Warehouse]:
    return {w.id: w for w in await inventory.list_warehouses(session)}


def warehouse_named(
    found: dict[int, Warehouse], code: str, field: str, errors: list[FieldError]
) -> Warehouse | None:
    """The active warehouse `code`, or an error on `field`."""
    for warehouse in found.values():
        if warehouse.code == code and warehouse.active:
            return warehouse
    errors.append(FieldError(field, f"unknown warehouse {code!r}"))
    return None


async def skus_named(
    session: AsyncSession, codes: Sequence[str], field: str, errors: list[FieldError]
) -> dict[str, Sku]:
    """The SKUs of `codes`; each unknown or repeated one an error on `field[i]` (`field` holds
    `{i}`)."""
    found = await catalog.skus_by_codes(session, list(codes))
    seen: set[str] = set()
    for i, code in enumerate(codes):
        if code not in found:
            errors.append(FieldError(field.format(i=i), f"unknown SKU {code!r}"))
        elif code in seen:
            errors.append(FieldError(field.format(i=i), "listed twice"))
        seen.add(code)
    return found
