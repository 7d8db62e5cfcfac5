"""Personal data shown masked (RSK-3): enough to recognise a customer, not to copy them.

The one place masks are made: API responses and console pages for roles without
`personal_data.read`, packing slips, notification logs and delivery listings all use these.
"""

from __future__ import annotations

from typing import Any

HIDDEN = "****"


def mask_phone(phone: str) -> str:
    """The first 3 and last 4 digits of a phone: 138****5678."""
    return f"{phone[:3]}{HIDDEN}{phone[-4:]}" if len(phone) >= 7 else HIDDEN


def mask_email(address: str) -> str:
    """The first character of the local part and the whole domain: z***@example.com."""
    name, at, domain = address.partition("@")
    return f"{name[:1]}***{at}{domain}"


def mask_name(name: str) -> str:
    """The first character of a name, the rest starred: 张三 → 张*, Zhang San → Z********."""
    return f"{name[:1]}{'*' * max(1, len(name) - 1)}" if name else ""


def mask_street(street: str) -> str:
    """A street without its house: its first two characters, the rest hidden (世纪大道100号 → 世纪****)."""
    return f"{street[:2]}{HIDDEN}" if street else ""


def masked_contact(contact: dict[str, Any]) -> dict[str, Any]:
    """An order's contact ({"customer": {...}, "shipping_address": {...}}) with the name, phone,
    email and street of each part masked; province, city, district and postcode kept (they name
    a region, not a person)."""
    masks = {"name": mask_name, "phone": mask_phone, "email": mask_email, "street": mask_street}
    return {
        part: {key: masks[key](value) if key in masks and value else value for key, value in fields.items()}
        for part, fields in contact.items()
    }
