"""CRM-3: the grading table, pure. Each case: a lead's signals, the grade, and the reasons it says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shopflow.core.policy import Crm, GradingRule, LeadSignal
from shopflow.crm.leads.grading import NO_SIGNAL, Signals, follow_up_due, follow_up_within, grade, yuan_words
from shopflow.crm.leads.models import Grade

RULES = Crm()
OFFICE = ("办公设备",)

CASES = [
    (
        "a quote of 200 units with a budget",
        Signals(OFFICE, "form", True, 200, 5_000_000),
        "A",
        ("asked for a quote of 200 units", "budget stated 50,000 yuan", "needs 办公设备"),
    ),
    ("a need only", Signals(("母婴用品",)), "C", ("needs 母婴用品",)),
    (
        "a need and a small budget",
        Signals(OFFICE, budget=500_000),
        "B",
        ("budget stated 5,000 yuan", "needs 办公设备"),
    ),
    (
        "a large quantity, budget open",
        Signals(OFFICE, quantity=200),
        "B",
        ("asked for 200 units", "needs 办公设备"),
    ),
    (
        "a large quantity by phone, budget open",
        Signals(OFFICE, "phone", quantity=200),
        "B",
        ("asked for 200 units", "needs 办公设备", "came by phone"),
    ),
    (
        "a quote of 100 units",
        Signals(OFFICE, quote_asked=True, quantity=100),
        "A",
        ("asked for a quote of 100 units", "needs 办公设备"),
    ),
    ("a quote without a quantity", Signals((), quote_asked=True), "B", ("asked for a quote",)),
    ("nothing at all", Signals(()), "C", (NO_SIGNAL,)),
    ("a quantity below the table's least", Signals(OFFICE, quantity=5), "C", ("needs 办公设备",)),
    (
        "the buying-power budget exactly",
        Signals(OFFICE, quantity=10, budget=1_000_000),
        "A",
        ("asked for 10 units", "budget stated 10,000 yuan", "needs 办公设备"),
    ),
    (
        "a budget just under the buying-power least",
        Signals(OFFICE, quantity=10, budget=999_950),
        "B",
        ("asked for 10 units", "budget stated 9,999.50 yuan", "needs 办公设备"),
    ),
    ("met at a fair", Signals(OFFICE, "fair"), "B", ("needs 办公设备", "came by fair")),
    ("a form is no sign by itself", Signals(OFFICE, "form"), "C", ("needs 办公设备",)),
    (
        "buying power without intent",
        Signals((), quantity=500, budget=10_000_000),
        "B",
        ("asked for 500 units", "budget stated 100,000 yuan"),
    ),
    ("a large quantity alone", Signals((), quantity=500), "C", ("asked for 500 units",)),
]


@pytest.mark.parametrize(
    ("signals", "expected", "reasons"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_grade_and_its_reasons(signals: Signals, expected: str, reasons: tuple[str, ...]) -> None:
    graded = grade(signals, RULES)

    assert (graded.grade, graded.reasons) == (Grade(expected), reasons)
    assert graded.sentence == f"{expected}: {'; '.join(reasons)}"


def test_the_thresholds_come_from_the_policy() -> None:
    signals = Signals(OFFICE, "form", True, 200, 5_000_000)
    strict = Crm(a_intent_at_least=100)

    assert grade(signals, RULES).grade == Grade.A
    assert grade(signals, strict).grade == Grade.B


def test_a_rule_of_weight_0_neither_counts_nor_gives_a_reason() -> None:
    rules = Crm(
        grading=(
            GradingRule(signal=LeadSignal.QUOTE_ASKED, kind="intent", weight=0),
            GradingRule(signal=LeadSignal.NEED_TAGS, kind="intent", weight=30),
        )
    )

    graded = grade(Signals(OFFICE, quote_asked=True), rules)

    assert (graded.grade, graded.reasons, graded.intent) == (Grade.B, ("needs 办公设备",), 30)


def test_a_store_may_count_its_own_sources() -> None:
    rules = Crm(
        grading=(GradingRule(signal=LeadSignal.SOURCE, kind="intent", weight=30, sources=("import",)),)
    )

    assert grade(Signals((), "import"), rules).reasons == ("came by import",)
    assert grade(Signals((), "form"), rules).grade == Grade.C


def test_two_requests_of_one_person_merge_needs_and_keep_the_larger_figures() -> None:
    first = Signals(("办公设备",), "form", False, 200, None)
    second = Signals(("打印机", "办公设备"), "chat", True, 50, 300_000)

    merged = first.merged(second)

    assert merged == Signals(("办公设备", "打印机"), "form", True, 200, 300_000)


@pytest.mark.parametrize(
    ("graded", "within"), [("A", timedelta(hours=24)), ("B", timedelta(days=3)), ("C", timedelta(days=7))]
)
def test_each_grade_has_its_follow_up_time(graded: str, within: timedelta) -> None:
    start = datetime(2026, 12, 4, 2, tzinfo=UTC)

    assert follow_up_within(Grade(graded), RULES) == within
    assert follow_up_due(start, Grade(graded), RULES) == start + within


def test_follow_up_times_come_from_the_policy() -> None:
    assert follow_up_within(Grade.A, Crm(grade_a_follow_up_hours=4)) == timedelta(hours=4)


@pytest.mark.parametrize(
    ("fen", "words"), [(5_000_000, "50,000 yuan"), (999_950, "9,999.50 yuan"), (5, "0.05 yuan")]
)
def test_amounts_in_reasons(fen: int, words: str) -> None:
    assert yuan_words(fen) == words
