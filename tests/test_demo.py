"""`shopflow demo`: a store that has been trading for weeks, loaded without telling any customer
and without a flood of alerts; and the same load on the test database (PostgreSQL in CI)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from shopflow import demo
from shopflow.cli import app
from shopflow.core import policy
from shopflow.core.alerts import Alert
from shopflow.core.db import Database
from shopflow.core.events import OutboxEvent
from shopflow.core.settings import get_settings
from shopflow.demo import risk
from shopflow.demo.plan import FIRST_SWEEP_ALERTS, MIN_ORDERS
from shopflow.orders.models import OrderStatus
from tests.conftest import SETTINGS

# Every state an order reaches in the course of business (ORD-3); `pending` lasts one transaction.
STATES = {status.value for status in OrderStatus} - {OrderStatus.PENDING.value}
# The handful late when loading ends, alerted by the first sweep (FIRST_SWEEP_ALERTS).
LATE_KINDS = {"order.ship": 2, "order.deliver": 1, "shipment.no_event": 1}


def rows(db_file: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db_file) as conn:
        return conn.execute(sql).fetchall()


@dataclass(frozen=True)
class Loaded:
    """A demo store loaded by the CLI into its own SQLite file, then one worker round."""

    db_file: Path
    demo: Result
    alerts_after_load: int

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        return rows(self.db_file, sql)

    def count(self, table: str, where: str = "1 = 1") -> int:
        return int(self.rows(f"SELECT count(*) FROM {table} WHERE {where}")[0][0])


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    root = tmp_path_factory.mktemp("demo")
    db_file = root / "shop.db"
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPFLOW_DATABASE_URL", f"sqlite:///{db_file}")
        patch.setenv("SHOPFLOW_SECRET_KEY", str(SETTINGS.secret_key))
        patch.setenv("SHOPFLOW_DATA_DIR", str(root / "data"))
        patch.setenv("SHOPFLOW_EMAIL_PROVIDER", "log")
        patch.delenv("SHOPFLOW_POLICY_FILE", raising=False)
        get_settings.cache_clear()
        assert runner.invoke(app, ["migrate"]).exit_code == 0
        demo_run = runner.invoke(app, ["demo", "--orders", str(MIN_ORDERS + 9)])
        assert demo_run.exit_code == 0, (demo_run.output, demo_run.exception)
        # The sales desk's assignment notices (CRM-4), the service desk's escalation (SVC-3) and the
        # quote waiting for approval (CAT-2) are the only alerts of its history.
        alerts = int(
            rows(
                db_file,
                "SELECT count(*) FROM alerts "
                "WHERE kind NOT IN ('lead.assigned', 'ticket.escalated', 'approval.pending')",
            )[0][0]
        )
        worker_run = runner.invoke(app, ["worker", "--once"])
        assert worker_run.exit_code == 0, (worker_run.output, worker_run.exception)
    get_settings.cache_clear()
    yield Loaded(db_file, demo_run, alerts)


def test_the_demo_has_orders_in_every_state_including_both_kinds_of_hold(loaded: Loaded) -> None:
    found = dict(loaded.rows("SELECT status, count(*) FROM orders WHERE imported_at IS NULL GROUP BY status"))
    holds = {reason for (reason,) in loaded.rows("SELECT hold_reason FROM orders WHERE status = 'on_hold'")}

    assert set(found) == STATES, found
    # + the contract's order and the risk desk's
    assert sum(found.values()) == MIN_ORDERS + 9 + 1 + risk.ORDERS  # type: ignore[arg-type]
    terms = loaded.rows("SELECT payment_terms FROM orders WHERE payment_terms IS NOT NULL")
    assert terms == [("net30",)]  # the accepted quote's contract, on 30 days' credit (CRM-6, ORD-5)
    quotes = dict(loaded.rows("SELECT state, count(*) FROM quotes GROUP BY state"))
    assert quotes == {"draft": 1, "pending_approval": 1, "sent": 1, "accepted": 1}
    assert {"stock_shortage", "manual", "risk_review"} <= holds


def test_carriers_have_rules_and_every_shipped_parcel_has_tracking_events(loaded: Loaded) -> None:
    carriers = loaded.rows(
        "SELECT c.code, count(r.id) FROM carriers c LEFT JOIN carrier_rules r ON r.carrier_id = c.id"
        " GROUP BY c.code"
    )
    untracked = loaded.count(
        "shipments",
        "status != 'shipped' AND id NOT IN (SELECT shipment_id FROM tracking_events)",
    )

    assert 2 <= len(carriers) <= 3
    assert all(rules > 0 for _, rules in carriers), carriers  # type: ignore[operator]
    assert loaded.count("shipments", "status = 'delivered'") > 0
    assert loaded.count("tracking_events") > loaded.count("shipments")
    assert untracked == 0


def test_loading_tells_no_customer_anything(loaded: Loaded) -> None:
    """Every outbox row of the history is handled; the worker's first round finds none to send."""
    assert loaded.count("outbox") > 0
    assert loaded.count("outbox", "delivered_at IS NULL") == 0
    assert loaded.count("notification_deliveries") == 0


def test_clocks_are_met_but_for_a_handful_the_first_sweep_alerts(loaded: Loaded) -> None:
    raised = (
        loaded.count(
            "alerts",
            "kind NOT LIKE 'lead%' AND kind NOT LIKE 'sla.breach.lead%' "
            "AND kind NOT LIKE 'ticket%' AND kind NOT LIKE 'sla.breach.ticket%' "
            "AND kind != 'approval.pending'",
        )
        - loaded.alerts_after_load
    )
    late_ship = loaded.count("sla_clocks", "kind = 'order.ship' AND state = 'breached'")
    breached = loaded.count(
        "sla_clocks",
        "state = 'breached' AND kind IN ('order.pay', 'order.ship', 'order.deliver', 'order.risk_review')",
    )

    assert loaded.alerts_after_load <= 1  # the parcel reported damaged hours ago, its case open
    assert 0 < raised <= FIRST_SWEEP_ALERTS
    assert late_ship == 2
    assert loaded.count("orders", "paid_at IS NOT NULL") > 5 * late_ship
    assert breached == loaded.count("alerts", "kind LIKE 'sla.breach.order.%' AND subject LIKE 'order:%'")


def test_the_after_sales_desk_has_cases_in_several_states_none_late(loaded: Loaded) -> None:
    states = {state for (state,) in loaded.rows("SELECT state FROM aftersales_cases")}
    late = loaded.count("sla_clocks", "subject LIKE 'case:%' AND state = 'breached'")

    assert states == {"requested", "rejected", "awaiting_return", "refunded", "refunding"}
    assert late == 0
    assert "5 after-sales cases" in loaded.demo.stdout


def test_the_stock_desk_has_counts_and_transfers_in_every_state_and_the_ledger_adds_up(
    loaded: Loaded,
) -> None:
    counts = dict(loaded.rows("SELECT state, count(*) FROM stock_counts WHERE period IS NULL GROUP BY state"))
    scheduled = loaded.rows("SELECT kind, count(*) FROM stock_counts WHERE period IS NOT NULL GROUP BY kind")
    transfers = dict(loaded.rows("SELECT state, count(*) FROM transfers GROUP BY state"))

    assert counts == {"posted": 1, "approved": 1, "open": 1}  # INV-6, by hand
    assert dict(scheduled) == {"full": 3, "partial": 3}  # the worker's run: one each per warehouse
    assert loaded.count("stock_counts", "state = 'approved' AND needs_manager") == 1
    assert transfers == {"received": 1, "shipped": 1, "draft": 1}  # INV-7
    off_ledger = "on_hand <> (SELECT coalesce(sum(quantity), 0) FROM stock_ledger l"
    off_ledger += " WHERE l.sku_id = s.sku_id AND l.warehouse_id = s.warehouse_id)"
    assert loaded.count("stock s", f"{off_ledger} OR reserved > on_hand") == 0  # INV-1, INV-2


def test_the_sales_desk_has_leads_in_every_grade_and_state_and_one_late(loaded: Loaded) -> None:
    found = set(loaded.rows("SELECT grade, state FROM leads"))
    late = loaded.rows("SELECT owner FROM alerts WHERE kind = 'sla.breach.lead.first_contact' ORDER BY owner")

    assert {grade for grade, _ in found} == {"A", "B", "C"}
    assert {state for _, state in found} == {"new", "contacted", "qualified", "converted", "lost"}
    assert loaded.count("leads", "state = 'converted' AND order_id IS NOT NULL") == 1
    assert len(late) == 2 and ("user:zhao-manager",) in late  # the late lead's owner and their manager


def test_the_service_desk_has_tickets_in_every_state_one_late_one_escalated(loaded: Loaded) -> None:
    states = {state for (state,) in loaded.rows("SELECT state FROM tickets")}
    escalated = loaded.rows("SELECT type, escalation FROM tickets WHERE escalation IS NOT NULL ORDER BY type")
    late = loaded.rows("SELECT kind FROM alerts WHERE kind LIKE 'sla.breach.ticket.%'")

    assert states == {"new", "open", "pending_customer", "resolved", "closed"}
    assert late == [("sla.breach.ticket.first_response",)]  # the email nobody answered
    # the phone complaint, and the follow-up of the survey scored 2 (SVC-6)
    assert escalated == [("complaint", "complaint"), ("complaint", "complaint"), ("inquiry", "breach")]


def test_customer_care_has_answered_surveys_a_follow_up_greetings_and_call_backs(loaded: Loaded) -> None:
    answered = loaded.rows(
        "SELECT kind, score, follow_up_id IS NOT NULL FROM surveys WHERE score IS NOT NULL"
    )
    tasks = {
        (reason, done)
        for reason, done in loaded.rows("SELECT reason, done_at IS NOT NULL FROM callback_tasks")
    }

    assert sorted(answered) == [("feedback", 4, False), ("satisfaction", 2, True), ("ticket", 5, False)]
    assert loaded.count("surveys", "score IS NULL") > 0  # sent, not answered yet
    assert loaded.count("care_greetings", "occasion = 'birthday'") == 1
    assert ("resolved", False) in tasks and ("periodic", True) in tasks


def test_the_knowledge_base_has_faq_and_scripts_in_both_languages_searchable_and_one_edited(
    loaded: Loaded,
) -> None:
    kinds = set(loaded.rows("SELECT kind, language FROM kb_articles"))
    indexed = loaded.count("kb_articles", "id IN (SELECT article_id FROM kb_terms WHERE term = '运费')")

    assert kinds == {("faq", "zh_CN"), ("faq", "en"), ("script", "zh_CN"), ("script", "en")}
    assert loaded.count("kb_articles", "id NOT IN (SELECT article_id FROM kb_terms)") == 0
    assert indexed >= 1
    assert loaded.count("audit_log", "action = 'kb.article_edited'") == 1


def test_the_cli_shows_its_progress_on_stderr_and_ends_with_the_token(loaded: Loaded) -> None:
    assert "days of trading" in loaded.demo.stderr
    assert "days of trading" not in loaded.demo.stdout
    assert loaded.demo.stdout.strip().splitlines()[-1].split()[-1].startswith("sf_")


def test_the_demo_refuses_fewer_orders_than_its_states_need(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--orders", str(MIN_ORDERS - 1)])

    assert result.exit_code == 2
    assert f"at least {MIN_ORDERS}" in result.output


async def test_the_demo_follows_the_policy_on_the_test_database_with_its_handful_late(db: Database) -> None:
    """Other promises than the defaults: the same states and the same handful late."""
    orders = {
        "unpaid_cancel_minutes": 15,
        "ship_within_hours": 24,
        "deliver_within_hours": 96,
        "auto_receipt_days": 5,
    }
    policy.install(policy.validate({"orders": orders, "fulfillment": {"stuck_without_event_hours": 36}}))

    summary = await demo.load(db, MIN_ORDERS, Console(stderr=True, quiet=True))

    assert summary is not None
    assert set(summary.orders) == STATES
    assert summary.carriers == 3
    assert {kind: summary.late.get(kind) for kind in LATE_KINDS} == LATE_KINDS
    async with db.transaction() as session:
        notices = await session.scalar(
            select(func.count())
            .select_from(Alert)
            .where(Alert.kind.in_(("lead.assigned", "ticket.escalated", "approval.pending")))
        )
    # The damaged parcel's case, besides the sales desk's notices, the service desk's escalation and
    # the quote waiting for approval.
    assert summary.alerts - (notices or 0) == 1
    assert summary.cases >= 3  # the desk takes the orders delivered within the window, 5 at most
    async with db.transaction() as session:
        pending = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.delivered_at.is_(None))
        )
    assert pending == 0
    assert await demo.load(db, MIN_ORDERS, Console(stderr=True, quiet=True)) is None


def test_every_order_has_its_customer_and_some_customers_came_back(loaded: Loaded) -> None:
    assert loaded.count("orders", "customer_id IS NULL") == 0
    assert 0 < loaded.count("customers") < loaded.count("orders")
    assert loaded.count("customers", "order_count >= 2") > 0
    assert loaded.count("customers", "lifetime_value < 0 OR (order_count = 0 AND lifetime_value <> 0)") == 0
    # Every customer's totals are the sum of their value entries, history's included (CRM-1).
    assert (
        loaded.count(
            "customers c",
            "lifetime_value <> (SELECT coalesce(sum(amount), 0) FROM customer_value_entries e "
            "WHERE e.customer_id = c.id) OR order_count <> (SELECT count(DISTINCT order_id) "
            "FROM customer_value_entries e WHERE e.customer_id = c.id AND amount > 0)",
        )
        == 0
    )
    assert loaded.count("customers", "order_count = 0") < loaded.count("customers") / 10


def test_a_year_of_history_precedes_the_weeks_of_trading_and_starts_no_clock(loaded: Loaded) -> None:
    months = loaded.rows(
        "SELECT substr(paid_at, 1, 7), count(*) FROM orders WHERE imported_at IS NOT NULL "
        "AND status = 'completed' GROUP BY 1 ORDER BY 1"
    )
    first_live = loaded.rows("SELECT min(created_at) FROM orders WHERE imported_at IS NULL")[0][0]
    last_past = loaded.rows("SELECT max(created_at) FROM orders WHERE imported_at IS NOT NULL")[0][0]
    by_day = dict(
        loaded.rows(
            "SELECT substr(created_at, 6, 5), count(*) FROM orders WHERE imported_at IS NOT NULL GROUP BY 1"
        )
    )

    assert len(months) in (12, 13)  # a year of days over 12 or 13 calendar months, every one sold
    assert all(n >= 90 for _, n in months[1:-1]), months
    assert str(last_past) < str(first_live)
    usual = sorted(by_day.values())[len(by_day) // 2]
    assert by_day["11-11"] > 2.5 * usual  # Double 11 against the median day
    assert loaded.count("orders", "imported_at IS NOT NULL AND status = 'cancelled' AND paid_at IS NULL") > 0
    assert (
        loaded.count(
            "sla_clocks", "subject IN (SELECT 'order:' || id FROM orders WHERE imported_at IS NOT NULL)"
        )
        == 0
    )
    assert (
        loaded.count("outbox", "subject IN (SELECT 'order:' || id FROM orders WHERE imported_at IS NOT NULL)")
        == 0
    )


def test_the_funnel_has_sixty_days_of_traffic_on_the_web_and_a_marketplace(loaded: Loaded) -> None:
    assert loaded.count("traffic_counts") == 120
    assert loaded.count("traffic_counts", "channel = 'web'") == 60
    assert loaded.count("traffic_counts", "inquiries >= visitors OR inquiries = 0") == 0


def test_coupons_are_in_use_stacked_and_given_back_by_cancelled_orders(loaded: Loaded) -> None:
    per_order = loaded.rows("SELECT order_id, count(*) FROM coupon_uses GROUP BY order_id")
    released = loaded.count("coupon_uses", "released_at IS NOT NULL")
    counters = loaded.rows(
        "SELECT c.code, c.limit_total, c.used, (SELECT count(*) FROM coupon_uses u WHERE u.coupon_id = c.id"
        " AND u.released_at IS NULL) FROM coupons c ORDER BY c.code"
    )

    assert {n for _, n in per_order} == {1, 2}  # alone and stacked
    assert released >= 1  # a cancelled order's use, given back (LOY-4)
    # A limited coupon's counter is its ledger's count; one without a limit reserves nothing.
    assert all(used == (held if limit is not None else 0) for _, limit, used, held in counters)
    assert [code for code, *_ in counters] == ["FLASH100", "FREESHIP6", "NEW10", "SPRING15", "WINTER5"]
    assert loaded.count("coupon_codes", "code LIKE 'FLASH100-%'") == 20
    # Each coupon order's discount is its lines' shares and its uses' amounts, to the fen.
    assert not loaded.rows(
        "SELECT o.id FROM orders o WHERE o.discount > 0 AND (o.discount <>"
        " (SELECT sum(l.discount) FROM order_lines l WHERE l.order_id = o.id) OR o.discount <>"
        " (SELECT sum(u.discount) FROM coupon_uses u WHERE u.order_id = o.id))"
    )


def test_price_rules_wait_scheduled_pending_and_untriggered_and_campaigns_run_wait_and_end(
    loaded: Loaded,
) -> None:
    """CAT-3, CAT-2, LOY-3: the console's price rules and campaigns show each state, and the
    running campaign has orders attributed through its coupons."""
    assert loaded.rows("SELECT kind, state FROM price_rules ORDER BY id") == [
        ("promotion", "active"),
        ("promotion", "pending"),
        ("markdown", "active"),
    ]
    # The markdown's stock is above its threshold: in force when it has stayed there 90 days.
    assert loaded.count("price_rules", "kind = 'markdown' AND marked_from > datetime('now', '+60 days')") == 1
    windows = loaded.rows(
        "SELECT name, starts_at <= CURRENT_TIMESTAMP, ends_at > CURRENT_TIMESTAMP FROM campaigns"
    )
    assert sorted(windows) == [("冬季清仓", 1, 0), ("双十二", 0, 1), ("春季焕新", 1, 1)]
    assert (
        loaded.rows(
            "SELECT count(*) FROM coupon_uses u JOIN campaigns c ON c.name = '春季焕新' JOIN coupons k"
            " ON k.id = u.coupon_id AND k.code IN ('SPRING15', 'FREESHIP6') WHERE u.released_at IS NULL"
        )[0][0]
        > 0
    )
