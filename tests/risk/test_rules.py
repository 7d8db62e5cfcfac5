"""RSK-1's rules as pure functions: each case an order's signals, the rule's expected score and
reason; a missing signal scores 0."""

from __future__ import annotations

import pytest

from shopflow.core.risk_policy import Risk
from shopflow.risk.models import Decision, RuleMode
from shopflow.risk.rules import (
    RULES,
    RuleSet,
    RuleSetting,
    Signals,
    assess,
    decide,
    default_rules,
    in_force,
    normalised,
    normalised_address,
    order_fingerprint,
)

DEFAULTS = default_rules(Risk())
VELOCITY = {"limit": 5, "window_minutes": 10}

CASES: list[tuple[str, str, Signals, dict[str, object], int, str]] = [
    # (case, rule, signals, params, expected score, expected reason)
    ("6 orders from one IP", "velocity_ip", Signals(ip_orders=6), VELOCITY, 60,
     "6 orders from one IP address in 10 minutes (more than 5)"),
    ("5 orders from one IP is the limit", "velocity_ip", Signals(ip_orders=5), VELOCITY, 0, ""),
    ("no IP: missing, not risk", "velocity_ip", Signals(ip_orders=None), VELOCITY, 0, ""),
    ("an exempt customer's IP", "velocity_ip", Signals(ip_orders=9, exempt=True), VELOCITY, 0, ""),
    ("7 orders from one device", "velocity_device", Signals(device_orders=7), VELOCITY, 60,
     "7 orders from one device in 10 minutes (more than 5)"),
    ("no device id", "velocity_device", Signals(), VELOCITY, 0, ""),
    ("the same order twice", "duplicate", Signals(duplicates=1), {"window_minutes": 30}, 40,
     "the same customer ordered the same items to the same address 1 time(s) in the last 30 minutes"),
    ("no duplicate", "duplicate", Signals(duplicates=0), {"window_minutes": 30}, 0, ""),
    ("duplicates unknown", "duplicate", Signals(duplicates=None), {"window_minutes": 30}, 0, ""),
    ("a sensitive word", "sensitive_words", Signals(address=normalised("上海市 代收点 3号")),
     {"words": ["代收点", "转寄"]}, 30, "the address contains 代收点"),
    ("a word written full-width", "sensitive_words", Signals(address=normalised("ＴＥＳＴ路1号")),
     {"words": ["test"]}, 30, "the address contains test"),
    ("a plain address", "sensitive_words", Signals(address="上海上海市浦东新区世纪大道100号"),
     {"words": ["代收点"]}, 0, ""),
    ("no address", "sensitive_words", Signals(address=None), {"words": ["代收点"]}, 0, ""),
    ("a remote area", "remote_area", Signals(address="西藏拉萨市城关区北京中路1号"),
     {"areas": ["西藏", "新疆"]}, 20, "the address is in a remote area (西藏)"),
    ("not remote", "remote_area", Signals(address="上海上海市"), {"areas": ["西藏"]}, 0, ""),
    ("a name not the profile's", "name_mismatch", Signals(order_name="李四", profile_name="张三"), {}, 20,
     "the order's name differs from the customer profile of its phone"),
    ("the same name spaced otherwise", "name_mismatch",
     Signals(order_name="Zhang San", profile_name="zhang  san"), {}, 0, ""),
    ("no profile: missing", "name_mismatch", Signals(order_name="李四", profile_name=None), {}, 0, ""),
    ("a first order of ¥5,000", "first_order_value", Signals(first_order=True, total=500_000),
     {"over": "3000.00"}, 30, "a first order worth 5000.00 (more than 3000.00)"),
    ("a first order of exactly the limit", "first_order_value", Signals(first_order=True, total=300_000),
     {"over": "3000.00"}, 0, ""),
    ("a repeat customer's big order", "first_order_value", Signals(first_order=False, total=900_000),
     {"over": "3000.00"}, 0, ""),
    ("no customer: missing", "first_order_value", Signals(first_order=None, total=900_000),
     {"over": "3000.00"}, 0, ""),
    ("a first order above 99% of the store's", "first_order_value",
     Signals(first_order=True, total=80_000, usual_most=60_000), {"over": "3000.00", "quantile": 0.99}, 30,
     "a first order worth 800.00, more than 99% of the store's orders (600.00)"),
    ("a first order at the store's usual most", "first_order_value",
     Signals(first_order=True, total=60_000, usual_most=60_000), {"over": "3000.00", "quantile": 0.99}, 0,
     ""),
    ("a store whose usual most is above the fixed amount", "first_order_value",
     Signals(first_order=True, total=500_000, usual_most=800_000), {"over": "3000.00", "quantile": 0.99},
     0, ""),
    ("a blocked phone", "blocked", Signals(blocked=("phone",)), {}, 100, "its phone is on the blocklist"),
    ("a blocked IP and device", "blocked", Signals(blocked=("ip", "device")), {}, 100,
     "its ip, device is on the blocklist"),
    ("blocked, but exempt", "blocked", Signals(blocked=("phone",), exempt=True), {}, 0, ""),
    ("nothing blocked", "blocked", Signals(), {}, 0, ""),
    ("3 failed payments", "failed_payments", Signals(failed_payments=3), {"limit": 3}, 50,
     "3 failed payments (the limit is 3)"),
    ("2 failed payments", "failed_payments", Signals(failed_payments=2), {"limit": 3}, 0, ""),
    ("payments unknown", "failed_payments", Signals(failed_payments=None), {"limit": 3}, 0, ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "signals", "params", "score", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_rule_scores_its_signal_with_its_reason(
    rule: str, signals: Signals, params: dict[str, object], score: int, reason: str
) -> None:
    weight = DEFAULTS.rule(rule).weight
    hit = RULES[rule](signals, params, weight)
    assert (hit.score, hit.reason) == (score, reason)


def test_every_rule_has_a_case_and_the_default_weights_are_the_policys() -> None:
    assert {c[1] for c in CASES} == set(RULES)
    assert DEFAULTS.rule("velocity_ip").weight >= DEFAULTS.review  # more than 5 in 10 minutes holds alone


def test_an_order_without_any_signal_passes() -> None:
    found = assess(DEFAULTS, Signals())
    assert (found.score, found.decision, found.reasons) == (0, Decision.PASS, [])


@pytest.mark.parametrize(
    ("score", "decision"),
    [
        (0, Decision.PASS),
        (49, Decision.PASS),
        (50, Decision.REVIEW),
        (99, Decision.REVIEW),
        (100, Decision.REJECT),
    ],
)
def test_the_total_decides_by_the_thresholds(score: int, decision: Decision) -> None:
    assert decide(score, 50, 100) is decision


def test_a_shadow_rule_is_recorded_but_decides_only_the_shadow_decision() -> None:
    rules = [
        RuleSetting("velocity_ip", 60, RuleMode.SHADOW, VELOCITY, version=2),
        RuleSetting("remote_area", 20, RuleMode.ACTIVE, {"areas": ["西藏"]}, version=0),
    ]
    found = assess(RuleSet(rules, 50, 100, version=7), Signals(ip_orders=6, address="西藏拉萨"))
    assert (found.score, found.decision) == (20, Decision.PASS)
    assert (found.shadow_score, found.shadow_decision) == (60, Decision.REVIEW)
    assert [(r["rule"], r["version"], r["mode"]) for r in found.reasons] == [
        ("velocity_ip", 2, RuleMode.SHADOW),
        ("remote_area", 0, RuleMode.ACTIVE),
    ]


def test_payment_rules_are_not_scored_at_intake() -> None:
    assert assess(DEFAULTS, Signals(failed_payments=9)).score == 0


class Row:
    def __init__(
        self, row_id: int, code: str, version: int, weight: int, mode: str, params: dict[str, object]
    ):
        self.id, self.code, self.version, self.weight, self.mode, self.params = (
            row_id,
            code,
            version,
            weight,
            mode,
            params,
        )


def test_rows_override_the_policy_defaults_and_name_the_version() -> None:
    rows = [
        Row(4, "duplicate", 2, 70, "shadow", {"window_minutes": 5}),
        Row(9, "thresholds", 1, 0, "active", {"review": 30, "reject": 80}),
    ]
    found = in_force(DEFAULTS, rows)
    duplicate = found.rule("duplicate")
    assert (duplicate.weight, duplicate.mode, duplicate.version, duplicate.params) == (
        70,
        RuleMode.SHADOW,
        2,
        {"window_minutes": 5},
    )
    assert (found.review, found.reject, found.version) == (30, 80, 9)
    assert found.rule("velocity_ip") == DEFAULTS.rule("velocity_ip")


def test_a_row_saved_before_a_parameter_existed_reads_the_policys() -> None:
    """first_order_value's rows of before the store's distribution count keep their `over` and
    take the policy's quantile, days and least number of orders."""
    rows = [Row(3, "first_order_value", 1, 30, "active", {"over": "5000.00"})]
    assert in_force(DEFAULTS, rows).rule("first_order_value").params == {
        "over": "5000.00",
        "quantile": 0.99,
        "days": 90,
        "min_orders": 200,
    }
    edited = {"over": "5000.00", "quantile": 0.9, "days": None}
    rows = [Row(5, "first_order_value", 2, 30, "active", edited)]
    rule = in_force(DEFAULTS, rows).rule("first_order_value")
    assert (rule.params["quantile"], rule.params["days"]) == (0.9, 90)


def test_addresses_and_fingerprints_are_normalised() -> None:
    one = {"province": "上海", "city": "上海市", "district": "浦东新区", "street": "世纪大道 100 号"}
    other = {"province": "上海", "city": "上海市", "district": "浦东新区", "street": "世纪大道100号"}
    assert normalised_address(one) == normalised_address(other) == "上海上海市浦东新区世纪大道100号"
    first = order_fingerprint("h", [("A", 1), ("B", 2)], normalised_address(one))
    assert first == order_fingerprint("h", [("B", 2), ("A", 1)], normalised_address(other))
    assert first != order_fingerprint("h", [("A", 2), ("B", 2)], normalised_address(one))
