"""Citation metadata from the opening lines of text taken from a journal article.

Text extracted from a journal PDF keeps the article's front matter as plain lines: the
journal's name and citation ("J Spine Rep 2026;14(3):211-218"), a DOI, the title wrapped
over a few lines, the by-line, affiliations and dates, then "Abstract". Nothing marks
them, so they are told apart by their form, and a field is read only where its form is
unmistakable: a text that does not open this way (no section heading ahead, no by-line
under a title) gives nothing rather than a guess.
"""

from __future__ import annotations

import re

DOI = re.compile(r"\b10\.\d{4,9}/[^\s\"<>]+")
# A year next to what dates a publication ("Published online 3 March 2025", "© 2024").
YEAR_CONTEXT = re.compile(
    r"(?:©|\(c\)|copyright|published(?:\s+online)?|accepted|epub|available online)"
    r"[^\n\d]{0,20}(?:\d{1,2}\s+[A-Za-z]{3,9}\.?,?\s+|[A-Za-z]{3,9}\.?\s+\d{1,2},?\s+)?"
    r"((?:19|20)\d{2})\b",
    re.I,
)
# "Journal Name 2026;14(3):211", "Journal Name, 2020, Volume 14", "Journal Name (2021) 9:e04".
_CITATION = re.compile(
    r"^(?P<journal>[A-Z][^\d|]*?)[\s,.]+\(?(?P<year>(?:19|20)\d{2})\)?\s*[;:,]?\s*"
    r"(?:(?i:vol(?:ume)?)\.?\s*)?\d"
)
# "Journal Name    Vol. 9, No. 2 (2025) e0147"
_VOLUME = re.compile(
    r"^(?P<journal>[A-Z][^\d|]*?)[\s|,]+vol(?:ume)?\.?\s*\d+.*?\b(?P<year>(?:19|20)\d{2})\b", re.I
)
_LABELS = re.compile(
    r"^(?:\s|[|•·]|case reports?|open access|original (?:article|research)|clinical case"
    r"|research article|short communication|brief report|review article)+$",
    re.I,
)
# The first heading of the article itself ("Abstract", "1. Introduction"); "Case report"
# alone is also the label above many titles, so it does not end the front matter.
_SECTION = re.compile(
    r"^\W*(?:\d+\.?\s*)?(?:abstract|summary|introduction|background|keywords?"
    r"|case (?:presentation|description|history))\b\W*$",
    re.I,
)
# Dates, addresses and links: never part of a title.
_NOT_TITLE = re.compile(
    r"https?://|www\.|@|©|\b(?:correspondence|corresponding|copyright|doi)\b"
    r"|\b(?:received|accepted|published|revised)(?:\s+online)?\s*:?\s*(?:on\s+)?"
    r"(?:\d|[A-Z][a-z]+\s+\d)",
    re.I,
)
# An affiliation: its marker, then an institution ("1 Department of Surgery, ...").
_AFFILIATION = re.compile(
    r"^[\d*†‡§]*\s*(?:the\s+)?(?:department|division|university|hospital|institute|faculty"
    r"|school|centre|center|clinic|service|unit)\b",
    re.I,
)
_JOURNAL_WORD = re.compile(
    r"\b(?:journal|reports?|cases?|annals|archives|review|medicine|letters|international"
    r"|quarterly|bulletin|acta|proceedings)\b",
    re.I,
)
# Degrees and other capitals after a name in a by-line ("Tom Lee, MD2", "MRCOG").
_DEGREES = re.compile(r"\b(?:MBChB|MBBCh|PhD|MSc|BSc|MCh|[A-Z]{2,6})\.?(?=[\d*†‡§,;\s]|$)")
REGION = 40  # lines read before the first section heading, at most


def author_line(line: str) -> list[str]:
    """Names from a by-line ("Ana Ruiz1, Tom Lee, MD2* and Mia Chen"), or [] if it is not one."""
    marked = bool(_DEGREES.search(line) or re.search(r"[a-z][\d*†‡§]", line))
    line = _DEGREES.sub("", line)
    line = re.sub(r"(?<=\w)\s[a-z](?=\s*(?:,|;|$))", "", line)  # letter marks: "Ana Ruiz a,"
    line = re.sub(r"[\d*†‡§,]+(?=\s|,|;|$)", lambda m: "," if "," in m.group(0) else "", line)
    names = [n for n in (p.strip(" ,;\t\r\n") for p in re.split(r",|;|\band\b|&", line)) if n]
    if not names or len(names) > 30 or (len(names) == 1 and not marked):
        return []
    for name in names:
        parts = name.split()
        if not 2 <= len(parts) <= 5 or not all(p[0].isupper() for p in parts):
            return []
    return names


def _citation(line: str) -> tuple[str, int] | None:
    """The journal and year of a citation line, if it is one."""
    if _NOT_TITLE.search(line.split("http")[0]) and not DOI.search(line):
        return None  # a date or address line ("doi" alone: a citation line with its DOI)
    m = _CITATION.match(line) or _VOLUME.match(line)
    if not m:
        return None
    name = re.split(r"\s{3,}", m.group("journal"))[0]  # a masthead beside its abbreviation
    journal = " ".join(name.split()).strip(" ,.;|")
    return (journal if len(journal.split()) >= 2 else "", int(m.group("year")))


def _is_journal_name(line: str, following: str) -> bool:
    """A journal's name on a line of its own: a journal's words, no digits, short, and a
    citation, DOI or label after it (or all in capitals, as mastheads are)."""
    words = line.split()
    if _LABELS.match(line) or not line[0].isupper():
        return False
    if not 2 <= len(words) <= 10 or re.search(r"\d|[.;:]$", line) or not _JOURNAL_WORD.search(line):
        return False
    return line.isupper() or bool(
        _citation(following) or DOI.search(following) or _LABELS.match(following.split("http")[0])
    )


def front_matter(text: str) -> dict:
    """Title, authors, journal, year and DOI stated above the first section heading."""
    lines = [ln.strip().lstrip("#").strip() for ln in text.splitlines()[:REGION]]
    end = next((i for i, ln in enumerate(lines) if _SECTION.match(ln) and len(ln) < 40), None)
    if end is None:
        return {}
    lines = lines[:end]
    meta: dict = {}
    if m := DOI.search("\n".join(lines)):
        meta["doi"] = m.group(0).rstrip(".,;)")
    kinds = []  # per line: "blank", "meta" (journal, citation, labels, dates...), "authors", "text"
    for i, line in enumerate(lines):
        following = next((x for x in lines[i + 1 :] if x), "")
        if not line:
            kinds.append("blank")
        elif found := _citation(line):
            journal, year = found
            meta.setdefault("year", year)
            if journal:
                meta.setdefault("cited_journal", journal)
            kinds.append("meta")
        elif _is_journal_name(line, following):
            meta.setdefault("journal", " ".join(line.split()))
            kinds.append("meta")
        elif _LABELS.match(line) or _NOT_TITLE.search(line) or _AFFILIATION.match(line):
            kinds.append("meta")
        elif author_line(line):
            kinds.append("authors")
        else:
            kinds.append("text")
    if "cited_journal" in meta:
        meta.setdefault("journal", meta.pop("cited_journal"))
    if "year" not in meta and (m := YEAR_CONTEXT.search("\n".join(lines))):
        meta["year"] = int(m.group(1))
    if "authors" in kinds:
        by_line = kinds.index("authors")
        meta["authors"] = author_line(lines[by_line])
        title = _first_run(lines[:by_line], kinds[:by_line])
        if title:
            meta["title"] = title
    return meta


def _first_run(lines: list[str], kinds: list[str]) -> str:
    """The first stretch of plain lines of four words or more, joined: a wrapped title."""
    run: list[str] = []
    for line, kind in zip(lines, kinds, strict=True):
        if kind == "text":
            run.append(line)
            continue
        if len(" ".join(run).split()) >= 4:
            break
        run = []
    title = " ".join(" ".join(run).split())
    return title if 4 <= len(title.split()) <= 60 else ""
