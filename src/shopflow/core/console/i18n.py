"""The console's languages: marking texts for the catalogs, the catalogs themselves, the reader's choice."""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import Request

WEB = Path(__file__).resolve().parents[2] / "web"
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LANG_COOKIE = "shopflow_lang"

Label = tuple[str, str]  # (context, English text): translated when shown


def label(context: str, message: str) -> Label:
    """Mark a label for the message catalogs; `Console.label` translates it when shown."""
    return context, message


def N_(message: str) -> str:
    """Mark a message for the catalogs (the gettext convention); translated when shown."""
    return message


@cache
def translations(locale: str) -> Translations:
    """The locale's catalog, compiled from its .po file in memory (no build step, never stale)."""
    with (WEB / "locale" / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


def locale_of(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, DEFAULT_LOCALE)
    return chosen if chosen in LOCALES else DEFAULT_LOCALE
