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
    r"^(?P<journal>[A-Z][^\d|·]*?)[\s|,·]+vol(?:ume)?\.?\s*\d+.*?\b(?P<year>(?:19|20)\d{2})\b", re.I
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
    r"^[\d*†‡§¹²³⁴⁵⁶⁷⁸⁹⁰]*\s*(?:the\s+)?(?:department|division|university|hospital|institute|faculty"
    r"|school|centre|center|clinic|service|unit)\b",
    re.I,
)
_JOURNAL_WORD = re.compile(
    r"\b(?:journal|reports?|cases?|annals|archives|review|medicine|letters|international"
    r"|quarterly|bulletin|acta|proceedings)\b",
    re.I,
)
# What names an institution: an affiliation, never a person.
_INSTITUTION = re.compile(
    r"\b(?:department|division|university|hospital|institute|faculty|school|centre|center"
    r"|clinic|service|unit|college|foundation|trust)\b",
    re.I,
)
_MARKS = "*†‡§¹²³⁴⁵⁶⁷⁸⁹⁰"  # affiliation and correspondence marks after a name
# Degrees and other capitals after a name in a by-line ("Tom Lee, MD2", "MRCOG", "FRCOphth").
_DEGREES = re.compile(
    rf"\b(?:PhD|MSc|BSc|MCh|[A-Z]{{2,6}}|(?=(?:\w*[A-Z]){{3}})[A-Za-z]{{3,9}})\.?"
    rf"(?=[\d{_MARKS},;\s]|$)"
)
REGION = 40  # lines read before the first section heading, at most


def author_line(line: str) -> list[str]:
    """Names from a by-line ("Ana Ruiz1, Tom Lee, MD2* and Mia Chen"), or [] if it is not one."""
    letters = [c for c in line if c.isalpha()]
    if not letters or sum(c.isupper() for c in letters) > 0.6 * len(letters):
        return []  # a title or masthead in capitals
    marked = bool(_DEGREES.search(line) or re.search(rf"[a-z][\d{_MARKS}]", line))
    line = _DEGREES.sub("", line)
    line = re.sub(r"(?<=\w)\s[a-z](?=\s*(?:,|;|$))", "", line)  # letter marks: "Ana Ruiz a,"
    line = re.sub(r"\s*\(\d+(?:,\d+)*\)", "", line)  # "Ana Ruiz (1)"
    line = re.sub(rf"[\d{_MARKS},]+(?=\s|,|;|$)", lambda m: "," if "," in m.group(0) else "", line)
    names = [n for n in (p.strip(" ,;\t\r\n") for p in re.split(r",|;|\band\b|&", line)) if n]
    if not names or len(names) > 30 or (len(names) == 1 and not marked):
        return []
    for name in names:
        parts = name.split()
        if _INSTITUTION.search(name):
            return []
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
    journal = " ".join(name.split()).strip(" ,.;|·")
    return (journal if len(journal.split()) >= 2 else "", int(m.group("year")))


def _journal_like(line: str) -> bool:
    """A journal's name in form: capitalised, a journal's words, no digits, short."""
    words = line.split()
    if not line or _LABELS.match(line) or not line[0].isupper() or not 2 <= len(words) <= 10:
        return False
    return not re.search(r"\d|[.;:]$", line) and bool(_JOURNAL_WORD.search(line))


def _introduces(line: str) -> bool:
    """What follows a journal's name on its own line: its citation, a DOI or a label."""
    return bool(_citation(line) or DOI.search(line) or _LABELS.match(line.split("http")[0]))


def _dated(cells: list[str]) -> bool:
    """The rest of a line split in cells gives a year or a volume ("| Vol. 18 | 2025")."""
    return any(re.search(r"\b(?:19|20)\d{2}\b|\bvol", c, re.I) for c in cells[1:])


# Markdown front matter names its lines ("**Authors:** Ana Ruiz, Tom Lee").
_LABELLED = re.compile(r"^(?P<label>authors?|by|journal|source|citation)\s*:\s*(?P<rest>.+)", re.I)


def _plain(line: str) -> str:
    """A line without Markdown's heading marks and emphasis."""
    line = re.sub(r"</?sup>", "", line)
    return line.strip().lstrip("#").replace("**", "").replace("*", "").strip()


def front_matter(text: str) -> dict:
    """Title, authors, journal, year and DOI stated above the first section heading."""
    lines = [_plain(ln) for ln in text.splitlines()[:REGION]]
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
        labelled = _LABELLED.match(line)
        if labelled and labelled["label"].lower() in ("author", "authors", "by"):
            line = lines[i] = labelled["rest"]  # read as a by-line below
        elif labelled:  # "Journal: Name, 2025; 8(2)" or "Journal: Name"
            journal, year = _citation(labelled["rest"]) or (labelled["rest"], None)
            meta.setdefault("journal", " ".join(journal.split()).strip(" ,.;"))
            if year:
                meta.setdefault("year", year)
            kinds.append("meta")
            continue
        cells = re.split(r"\s+[|·]\s+", line)  # "Journal Name | Published 2025 | Vol. 18"
        if not line:
            kinds.append("blank")
        elif found := _citation(line):
            journal, year = found
            meta.setdefault("year", year)
            if journal:
                meta.setdefault("cited_journal", journal)
            kinds.append("meta")
        elif _journal_like(cells[0]) and (
            cells[0].isupper() or _introduces(following) or (len(cells) > 1 and _dated(cells))
        ):
            meta.setdefault("journal", " ".join(cells[0].split()))
            if year := re.search(r"\b(?:19|20)\d{2}\b", " ".join(cells[1:])):
                meta.setdefault("year", int(year.group()))
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
