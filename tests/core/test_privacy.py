"""Masks of personal data (RSK-3): enough to recognise a customer, not to copy them."""

from __future__ import annotations

import pytest

from shopflow.core.privacy import mask_email, mask_name, mask_phone, mask_street, masked_contact


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


def test_a_name_keeps_its_first_character() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("Li") == "L*"
    assert mask_name("Z") == "Z*"
    assert mask_name("") == ""


def test_a_street_keeps_only_its_first_two_characters() -> None:
    assert mask_street("世纪大道100号") == "世纪****"
    assert mask_street("") == ""


def test_an_order_contact_masks_name_phone_email_and_street_and_keeps_the_region() -> None:
    contact = {
        "customer": {"name": "张三", "phone": "13800138000", "email": None},
        "shipping_address": {
            "name": "李四",
            "phone": "",
            "province": "上海",
            "city": "上海市",
            "district": "浦东新区",
            "street": "世纪大道100号",
            "postcode": "200120",
        },
    }

    assert masked_contact(contact) == {
        "customer": {"name": "张*", "phone": "138****8000", "email": None},
        "shipping_address": {
            "name": "李*",
            "phone": "",
            "province": "上海",
            "city": "上海市",
            "district": "浦东新区",
            "street": "世纪****",
            "postcode": "200120",
        },
    }
