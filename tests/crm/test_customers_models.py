"""The customers' pure rules (CRM-1): what a reader without personal data sees, what a profile
needs, which merges are refused."""

from __future__ import annotations

from datetime import date

from shopflow.crm.models import Customer, audited, merge_errors, personal_errors, primary_after, seen

PERSONAL = {
    "name": "张三丰",
    "email": "zhang@example.cn",
    "birthday": "1990-05-01",
    "addresses": [{"province": "上海", "city": "上海市", "district": "浦东新区", "street": "世纪大道100号"}],
}


def test_a_reader_without_personal_data_sees_the_profile_masked_and_no_birthday() -> None:
    assert seen(PERSONAL, ["13800138000", "13911112222"], revealed=False) == {
        "name": "张**",
        "email": "z***@example.cn",
        "birthday": None,
        "addresses": [{"province": "上海", "city": "上海市", "district": "浦东新区", "street": "世纪****"}],
        "phones": ["138****8000", "139****2222"],
    }


def test_a_reader_with_personal_data_sees_it_as_stored() -> None:
    assert seen(PERSONAL, ["13800138000"], revealed=True) == {**PERSONAL, "phones": ["13800138000"]}


def test_a_profile_needs_a_name_and_a_birthday_not_yet_to_come() -> None:
    today = date(2026, 12, 7)
    assert personal_errors(PERSONAL, today) == []
    assert [e.field for e in personal_errors({**PERSONAL, "name": " "}, today)] == ["name"]
    assert [e.field for e in personal_errors({**PERSONAL, "birthday": "2026-12-08"}, today)] == ["birthday"]
    assert personal_errors({**PERSONAL, "birthday": "2026-12-07"}, today) == []


def test_a_profile_merges_neither_into_itself_nor_twice() -> None:
    kept, other, gone = Customer(id=1), Customer(id=2), Customer(id=3, merged_into=1)
    assert merge_errors(kept, other) == []
    assert [e.message for e in merge_errors(kept, kept)] == ["is this customer"]
    assert [e.message for e in merge_errors(kept, gone)] == ["was merged into customer 1"]


def test_the_primary_after_a_change_is_the_chosen_one_else_the_current_else_the_oldest_left() -> None:
    assert primary_after(["a", "b"], ["c"], "a", "c") == "c"
    assert primary_after(["a", "b"], [], "a", "z") is None  # not one of its phones after the change
    assert primary_after(["b"], ["c"], "a", None) == "b"  # the primary was removed: the oldest left
    assert primary_after(["a", "b"], ["c"], "b", None) == "b"
    assert primary_after([], ["c"], "a", None) == "c"
    assert primary_after([], [], "a", None) is None


def test_an_audited_profile_keeps_only_the_fields_named_and_masks_them() -> None:
    personal = {"name": "王五", "email": "wang@example.cn", "birthday": "1990-05-01", "addresses": []}

    found = audited(personal, ["VIP"], ["13900001111"], {"name", "birthday", "phones", "tags"})

    assert found == {"birthday": "****-**-**", "name": "王*", "phones": ["139****1111"], "tags": ["VIP"]}
