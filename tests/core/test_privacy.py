"""What screens, slips and log files show of a phone or an email address."""

from __future__ import annotations

import pytest

from shopflow.core.privacy import mask_email, mask_phone


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+8613812345678", "+86****5678"),
        ("1234567", "123****4567"),
        ("12345", "****"),
    ],
)
def test_a_phone_keeps_its_first_3_and_last_4_digits(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("zhang.wei@example.com", "z***@example.com"),
        ("z@example.cn", "z***@example.cn"),
        ("no-domain", "n***"),
    ],
)
def test_an_email_keeps_the_first_character_and_the_domain(address: str, masked: str) -> None:
    assert mask_email(address) == masked
