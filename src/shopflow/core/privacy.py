"""Masking personal data for eyes and files that need only recognise it (screens, slips, logs)."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    """The first 3 and the last 4 digits: 138****5678; a number too short to keep both, ****."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


def mask_email(address: str) -> str:
    """The local part's first character and the full domain: z***@example.com."""
    name, at, domain = address.partition("@")
    return f"{name[:1]}***{at}{domain}"
