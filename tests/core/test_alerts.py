"""The alert model (ANA-3): its TRANSITIONS table, its owner per kind from the policy, and the
permission per kind that decides who may acknowledge or resolve it."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shopflow.core import alerts, policy
from shopflow.core.alerts import TRANSITIONS, Alert, AlertState
from shopflow.core.auth import Role
from shopflow.core.policy import PolicyError
from tests.builders.transitions import assert_refused, reachable_from, terminal

AT = datetime(2030, 3, 1, 1, 0, tzinfo=UTC)
A = AlertState
# ANA-3: an open alert is acknowledged by someone who owns it now, or resolved at once (its cause
# ended, or a person says why it needs nothing); an acknowledged one is resolved; resolved is done.
EXPECTED: dict[AlertState, set[AlertState]] = {
    A.OPEN: {A.ACKNOWLEDGED, A.RESOLVED},
    A.ACKNOWLEDGED: {A.RESOLVED},
    A.RESOLVED: set(),
}
ARRIVALS: dict[AlertState, Callable[[Alert], object]] = {
    A.ACKNOWLEDGED: lambda a: a.acknowledge(7, AT),
    A.RESOLVED: lambda a: a.resolve(7, "customer called back", AT),
}


def test_every_alert_state_has_a_row_and_every_later_state_a_way_in() -> None:
    assert set(TRANSITIONS) == set(AlertState) == set(EXPECTED)
    assert set(ARRIVALS) == set(AlertState) - {A.OPEN}  # an alert is raised open


@pytest.mark.parametrize(("current", "target"), list(itertools.product(AlertState, repeat=2)))
def test_an_alert_steps_exactly_where_the_table_lists_and_a_refused_step_keeps_its_state(
    current: AlertState, target: AlertState
) -> None:
    allowed = target in EXPECTED[current]
    assert (target in TRANSITIONS[current]) is allowed
    alert = Alert(state=current)
    if target is A.OPEN:  # no step leads back to open
        assert not allowed
        return
    if allowed:
        ARRIVALS[target](alert)
        assert alert.state == target
        return
    assert_refused(lambda: ARRIVALS[target](alert), current, target)
    assert alert.state == current


def test_acknowledging_and_resolving_record_who_when_and_why() -> None:
    alert = Alert(state=A.OPEN)
    assert alert.acknowledge(7, AT) == A.OPEN
    assert alert.resolve(8, "refunded by hand", AT) == A.ACKNOWLEDGED
    assert (alert.acknowledged_by, alert.resolved_by, alert.resolved_at) == (7, 8, AT)
    assert alert.resolution_note == "refunded by hand"


def test_every_alert_can_end_resolved_and_a_bulk_acknowledgement_takes_only_open_ones() -> None:
    assert terminal(TRANSITIONS) == {A.RESOLVED}
    assert reachable_from(TRANSITIONS, A.OPEN) == set(AlertState)
    assert alerts.sources(A.ACKNOWLEDGED) == [A.OPEN]
    assert alerts.sources(A.RESOLVED) == [A.OPEN, A.ACKNOWLEDGED]


@pytest.mark.parametrize(
    ("kind", "owner"),
    [
        ("sla.breach.order.ship", "operations"),  # order clocks
        ("sla.breach.order.pay", "operations"),
        ("sla.breach.shipment.no_event", "operations"),
        ("sla.breach.shipment.exception_contact", "cs_supervisor"),  # the longest prefix wins
        ("low_stock", "purchasing"),
        ("notification_failed", "admin"),
        ("payment_amount_mismatch", "finance"),
        ("a.kind.nobody.named", "admin"),  # the default owner
    ],
)
def test_each_kind_has_its_default_owner(kind: str, owner: str) -> None:
    assert policy.current().alerts.owner_of(kind) == owner


def test_every_default_owner_is_a_role() -> None:
    defaults = policy.Policy().alerts
    assert {*defaults.owners.values(), defaults.default_owner} <= set(Role)


def test_the_policy_file_names_owners_by_kind_or_prefix_and_keeps_the_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        """
        [alerts]
        default_owner = "manager"
        [alerts.owners]
        "sla.breach.order.ship" = "user:wang.ops"
        "sla.breach" = "cs_supervisor"
        """,
        encoding="utf-8",
    )
    owners = policy.load(path).alerts
    assert owners.owner_of("sla.breach.order.ship") == "user:wang.ops"
    assert owners.owner_of("sla.breach.order.pay") == "operations"  # "sla.breach.order" is longer
    assert owners.owner_of("sla.breach.review.reply") == "cs_supervisor"
    assert owners.owner_of("low_stock") == "purchasing"
    assert owners.owner_of("something.new") == "manager"


def test_an_owner_that_is_neither_a_role_nor_a_user_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[alerts.owners]\n"low_stock" = "buyers"\n', encoding="utf-8")
    with pytest.raises(PolicyError) as refused:
        policy.load(path)
    assert [error.field for error in refused.value.errors] == ["alerts.owners.low_stock"]


@pytest.mark.parametrize(
    ("kind", "permission"),
    [
        ("sla.breach.order.ship", "alerts.ack.sla.breach.order"),
        ("sla.breach.shipment.no_event", "alerts.ack.sla.breach.shipment"),
        ("payment_amount_mismatch", "alerts.ack.payment_amount_mismatch"),
        ("notification_failed", "alerts.ack.notification_failed"),
        ("a.kind.nobody.named", "alerts.ack"),
    ],
)
def test_who_may_acknowledge_a_kind_is_one_permission_per_kind(kind: str, permission: str) -> None:
    assert alerts.permission(kind) == permission


def test_roles_acknowledge_the_kinds_of_their_work() -> None:
    assert alerts.may_handle("finance", "payment_amount_mismatch")
    assert not alerts.may_handle("warehouse", "payment_amount_mismatch")
    assert alerts.may_handle("operations", "sla.breach.order.ship")
    assert not alerts.may_handle("finance", "sla.breach.order.ship")
    assert not alerts.may_handle("sales", "a.kind.nobody.named")
    assert alerts.may_handle("admin", "notification_failed")
