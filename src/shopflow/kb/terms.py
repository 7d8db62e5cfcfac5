"""The knowledge base's search terms (SVC-4), pure: what an article is indexed under and what a
query looks for, the same on SQLite and PostgreSQL.

Chinese has no spaces, so Chinese text is indexed by every two-character window (退货运费谁承担:
退货, 货运, 运费, 费谁, 谁承, 承担) and every single character; a query of two or more
characters looks for its windows, a one-character query for the character. Any two-character
word of an article is one of its windows, so 运费 and 退货 both find 退货运费谁承担 with no
dictionary. Other text is split into lower-case words, lightly stemmed (refunds, refunded,
refunding → refund) and common words dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

MAX_TERM = 40  # characters of a stored term (`kb_terms.term`)
# The weight of one occurrence: in the title, tags or category; in the body. A single Chinese
# character counts a quarter of a word or a window (it says little on its own).
TITLE_WEIGHT = 8
BODY_WEIGHT = 1
BODY_CAP = 5  # occurrences in the body counted at most, so a long article does not win by length
SINGLE_SHARE = 4

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"[{_CJK}]+|[^\W{_CJK}_]+")
_CJK_RUN = re.compile(rf"[{_CJK}]+")
STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "my",
        "of",
        "on",
        "or",
        "our",
        "the",
        "to",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    }
)


def stem(word: str) -> str:
    """A light English stemmer: plurals and -ed/-ing endings (refunds, refunded → refund;
    deliveries → delivery; boxes → box). Indexing and queries share it, so it only has to be
    consistent, not linguistically right."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, replacement, shortest in (
        ("ies", "y", 5),
        ("sses", "ss", 5),
        ("xes", "x", 4),
        ("ches", "ch", 5),
        ("shes", "sh", 5),
        ("ing", "", 6),
        ("ed", "", 5),
        ("s", "", 4),
    ):
        if word.endswith(suffix) and len(word) >= shortest:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            root = word[: len(word) - len(suffix)] + replacement
            doubled = suffix in ("ing", "ed") and root[-1] == root[-2] and root[-1] not in "lsz"
            return root[:-1] if doubled else root
    return word


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _words(text: str) -> list[str]:
    """Stemmed non-Chinese words of the text, common words left out."""
    found: list[str] = []
    for run in _RUNS.findall(_normal(text)):
        if not _CJK_RUN.fullmatch(run) and run not in STOP_WORDS:
            found.append(stem(run)[:MAX_TERM])
    return found


def _chinese_runs(text: str) -> list[str]:
    return _CJK_RUN.findall(_normal(text))


def _occurrences(text: str) -> tuple[Counter[str], Counter[str]]:
    """(words and two-character windows, single characters) of the text, counted."""
    words: Counter[str] = Counter(_words(text))
    singles: Counter[str] = Counter()
    for run in _chinese_runs(text):
        singles.update(run)
        words.update(run[i : i + 2] for i in range(len(run) - 1))
    return words, singles


def weights(title: str, body: str, tags: list[str], category: str) -> dict[str, int]:
    """An article's terms with their weights (`kb_terms`)."""
    heading = " ".join([title, *tags, category.replace("_", " ")])
    title_words, title_singles = _occurrences(heading)
    body_words, body_singles = _occurrences(body)
    found: dict[str, int] = {}
    for share, top, rest in ((1, title_words, body_words), (SINGLE_SHARE, title_singles, body_singles)):
        for term in top.keys() | rest.keys():
            weight = TITLE_WEIGHT * min(top[term], 1) + BODY_WEIGHT * min(rest[term], BODY_CAP)
            found[term] = max(1, weight // share)
    return found


def query(text: str) -> list[str]:
    """The terms a search looks for: its words, the two-character windows of its Chinese, or
    the character itself when a Chinese part is one character long."""
    found = dict.fromkeys(_words(text))
    for run in _chinese_runs(text):
        if len(run) == 1:
            found[run] = None
        found.update(dict.fromkeys(run[i : i + 2] for i in range(len(run) - 1)))
    return list(found)
