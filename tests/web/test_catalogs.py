"""The console's message catalogs: every text the console shows has its Chinese translation, and
the order states read as PROCESS_SPEC names them (ORD-3)."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from shopflow.core.console.i18n import WEB, translations
from shopflow.orders.console import STATUS
from shopflow.orders.models import OrderStatus
from tests.conftest import ROOT

KEYWORDS = {"_": None, "gettext": None, "pgettext": ((1, "c"), 2), "N_": None, "label": ((1, "c"), 2)}


def _extracted() -> set[tuple[str | None, str]]:
    """(context, message) of every text marked in the console's code and templates (babel.cfg)."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = set()
    for _, _, message, _, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        found.add((context, message if isinstance(message, str) else message[0]))
    return found


def _catalog(locale: str) -> dict[tuple[str | None, str], str]:
    with (WEB / "locale" / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        # A fuzzy entry is a guess, never shown: it counts as untranslated.
        return {(m.context, str(m.id)): "" if m.fuzzy else str(m.string) for m in read_po(po) if m.id}


def test_every_console_text_is_translated_to_chinese_and_listed_for_english() -> None:
    marked = _extracted()
    assert len(marked) > 150
    chinese = _catalog("zh_CN")
    untranslated = sorted((key for key in marked if not chinese.get(key)), key=str)
    assert untranslated == [], "run `make messages` and translate these in zh_CN/LC_MESSAGES/messages.po"
    assert marked <= set(_catalog("en")), "run `make messages`: the English catalog is missing texts"


def test_order_states_read_as_the_process_spec_names_them() -> None:
    zh = translations("zh_CN")
    names = {state: zh.pgettext(*STATUS[state]) for state in OrderStatus}
    assert names == {
        OrderStatus.PENDING: "待确认",
        OrderStatus.CONFIRMED: "已确认",
        OrderStatus.PAID: "已支付",
        OrderStatus.PICKING: "拣货中",
        OrderStatus.PACKED: "已打包",
        OrderStatus.SHIPPED: "已发货",
        OrderStatus.DELIVERED: "已送达",
        OrderStatus.COMPLETED: "已完成",
        OrderStatus.CLOSED: "已关闭",
        OrderStatus.CANCELLED: "已取消",
        OrderStatus.ON_HOLD: "挂起",
    }
    english = translations("en")
    assert [english.pgettext(*STATUS[s]) for s in (OrderStatus.PENDING, OrderStatus.ON_HOLD)] == [
        "pending",
        "on hold",
    ]
