"""Titles a clinician can read for every indexed report, and its citation line.

Many case reports arrive as files that state no title in a form the loaders recognise
(plain text from a web page, a PDF without metadata), and a file name such as
``000_6ed44de2d61d2162.txt`` tells a clinician nothing. A report's title is, in order:
its metadata title; its own first heading, unless that is a generic one ("Abstract",
"Case report"); its case card ("57-year-old female, C4/5"); its opening words; and only
when none of these exists, the file name.
"""

from __future__ import annotations

import contextlib
import re
import threading
from pathlib import Path

from rag.cards import card_title
from rag.chunking import split_sentences
from rag.documents import CaseCard, DocInfo
from rag.store import CATALOG, Store

GENERIC_HEADING = re.compile(
    r"^\W*(?:abstract|summary|introduction|background|discussion|conclusions?|methods?"
    r"|results?|references|acknowledge?ments?|keywords?|main text|letter|editorial"
    r"|case(?:\s+\d+)?(?:\s+(?:reports?|presentations?|descriptions?|histor(?:y|ies)))?"
    r"|(?:figure|fig|table)\b.*)\W*$",
    re.I,
)
OPENING_CHARS = 90
_cache: dict[tuple, dict[str, str]] = {}
_lock = threading.Lock()


def heading_title(heading: str | None) -> str:
    """A document's first heading, if it reads as a title rather than a section name."""
    heading = " ".join((heading or "").split())
    return "" if not heading or GENERIC_HEADING.match(heading) else heading


def opening_words(text: str, limit: int = OPENING_CHARS) -> str:
    """The report's first sentence, cut at a word boundary near ``limit`` characters."""
    text = " ".join(text.split())
    spans = split_sentences(text)
    first = text[spans[0].start : spans[0].end] if spans else text
    if len(first) <= limit:
        return first
    cut = first.rfind(" ", 0, limit)
    return first[: cut if cut > limit // 2 else limit].rstrip(" ,;:") + "…"


def cards_title(cards: list[CaseCard]) -> str:
    """One title for a report's cards: the first patient's, and how many more it has."""
    titles = [t for t in (card_title(c) for c in cards) if t]
    if not titles:
        return ""
    more = len(cards) - 1
    return titles[0] + (f" and {more} more patient{'s' if more > 1 else ''}" if more else "")


def choose_title(doc: DocInfo, heading: str | None, cards: list[CaseCard], opening: str) -> str:
    """The first of: metadata title, own heading, case card, opening words, file name."""
    return (
        " ".join(doc.title.split())
        or heading_title(heading)
        or cards_title(cards)
        or opening_words(opening)
        or Path(doc.source).name
        or doc.doc_id
    )


def _catalog_version(store: Store) -> tuple[int, ...]:
    """Changes with every commit to the catalog, including one that only re-reads cards
    (which starts no new generation): the modification times of its files."""
    times = []
    for name in (CATALOG, f"{CATALOG}-wal"):
        with contextlib.suppress(OSError):
            times.append((store.dir / name).stat().st_mtime_ns)
    return tuple(times)


def titles(store: Store) -> dict[str, str]:
    """doc_id -> the title a clinician sees, computed again after each catalog commit."""
    key = (str(store.dir), store.generation, *_catalog_version(store))
    with _lock:
        if key in _cache:
            return _cache[key]
    cards: dict[str, list[CaseCard]] = {}
    for card in store.cards():
        cards.setdefault(card.doc_id, []).append(card)
    first = store.first_passages()
    out = {}
    for doc in store.documents():
        heading, opening = first.get(doc.doc_id, (None, ""))
        out[doc.doc_id] = choose_title(doc, heading, cards.get(doc.doc_id, []), opening)
    with _lock:
        _cache.clear()  # one generation of one index at a time is all a page needs
        _cache[key] = out
    return out


def citation_line(doc: DocInfo | None, section: str | None = None, pages: str = "") -> list[str]:
    """Authors, journal, year, section and pages, where known: never "None" or blanks."""
    parts: list[str] = []
    if doc is not None:
        if doc.authors:
            parts.append(", ".join(doc.authors[:3]) + (" et al." if len(doc.authors) > 3 else ""))
        parts += [doc.journal or "", str(doc.year) if doc.year else ""]
    parts += [section or "", pages]
    return [" ".join(p.split()) for p in parts if p and p.strip()]
