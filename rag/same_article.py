"""When two files are the same article: same DOI or PMID, the same title with a second
sign, or near-identical text; and which format wins when one arrives in several."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# When the same article arrives in several formats at once, the first of these wins.
FORMAT_PREFERENCE = (".nxml", ".xml", ".pdf", ".html", ".htm", ".md", ".txt")
MIN_TITLE_WORDS = 5  # shorter titles ("Case report") say nothing about identity
LONG_LINE_WORDS = 8  # lines this long are article prose, not chrome, for near-duplicates


@dataclass
class Identity:
    """What makes two files the same article."""

    name: str
    doi: str
    pmid: str
    title: str
    long_lines: set[str]
    year: int | None = None
    surnames: frozenset[str] = frozenset()


def identity(name: str, meta: dict, keys: Iterable[str]) -> Identity:
    title = re.sub(r"[^a-z0-9]+", " ", str(meta.get("title") or "").lower()).strip()
    return Identity(
        name,
        str(meta.get("doi") or "").strip().lower().removeprefix("https://doi.org/"),
        str(meta.get("pmid") or "").strip(),
        title if len(title.split()) >= MIN_TITLE_WORDS else "",
        {k for k in keys if len(k.split()) >= LONG_LINE_WORDS},
        int(meta["year"]) if str(meta.get("year") or "").isdigit() else None,
        frozenset(str(a).split()[-1].lower() for a in meta.get("authors") or [] if str(a).split()),
    )


def same_article(a: Identity, b: Identity) -> str | None:
    """Why ``a`` and ``b`` are the same article, or None. Differing DOIs settle it."""
    if a.doi and b.doi:
        return f"same DOI {a.doi}" if a.doi == b.doi else None
    if a.pmid and a.pmid == b.pmid:
        return f"same PMID {a.pmid}"
    # A title alone can be a journal's name picked off a first page: want a second sign.
    if a.title and a.title == b.title and (a.year and a.year == b.year or a.surnames & b.surnames):
        return "same title"
    shared = len(a.long_lines & b.long_lines)
    smaller = min(len(a.long_lines), len(b.long_lines))
    if shared >= 3 and shared >= 0.8 * smaller:
        return "near-identical text"
    return None


def preference(path: Path) -> int:
    suffix = path.suffix.lower()
    return (
        FORMAT_PREFERENCE.index(suffix) if suffix in FORMAT_PREFERENCE else len(FORMAT_PREFERENCE)
    )
