"""Listing compliance (CAT-4): the policy's banned words (the advertising law's absolutes: 最,
第一, 国家级 …) found in a product's title and description, each named with its field and its
position, as pure functions. Latin words match whole and in any case ("Best" but not "bestow");
Chinese words match wherever they stand; at one position the longest listed word is the hit, and
hits do not overlap."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

_LATIN = re.compile(r"[A-Za-z0-9]")


@dataclass(frozen=True, slots=True)
class Hit:
    field: str  # "name" or "description"
    word: str  # as the policy lists it
    position: int  # the character offset in the field's text, from 0
    found: str  # as the text writes it


def _pattern(word: str) -> str:
    before = r"(?<![A-Za-z0-9])" if _LATIN.match(word[0]) else ""
    after = r"(?![A-Za-z0-9])" if _LATIN.match(word[-1]) else ""
    return f"{before}{re.escape(word)}{after}"


@lru_cache(maxsize=8)
def _matcher(words: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    longest_first = sorted(set(words), key=lambda w: (-len(w), w))
    listed = {w.casefold(): w for w in longest_first}
    return re.compile("|".join(_pattern(w) for w in longest_first), re.IGNORECASE), listed


def hits(fields: Mapping[str, str], words: Sequence[str]) -> list[Hit]:
    """Every banned word of `words` in each field of `fields` (name -> text), field by field,
    left to right."""
    if not words:
        return []
    matcher, listed = _matcher(tuple(words))
    return [
        Hit(field, listed[match.group().casefold()], match.start(), match.group())
        for field, text in fields.items()
        for match in matcher.finditer(text)
    ]


def marked(text: str, found: Sequence[Hit]) -> list[tuple[str, bool]]:
    """`text` cut into pieces, each with whether it is a hit (for the console's highlighting)."""
    pieces = []
    at = 0
    for hit in sorted(found, key=lambda h: h.position):
        pieces.append((text[at : hit.position], False))
        pieces.append((hit.found, True))
        at = hit.position + len(hit.found)
    pieces.append((text[at:], False))
    return [(piece, hit) for piece, hit in pieces if piece]
