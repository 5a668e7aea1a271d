"""Turn raw extracted text into clean sections.

Unicode normalisation, de-hyphenation, running headers/footers and page numbers, web
site chrome (navigation, calls to action, legal notices, lines repeated across
documents) and reference lists. The chrome detector looks at general line features,
never at a list of particular phrases, because every site has its own.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

from rag.documents import Section

_ODD_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\f\v]")
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")
_HYPHEN_BREAK = re.compile(r"(\w)-\n[ \t]*([a-z])")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_TERMINAL = (".", "!", "?", ":", ";", "…", '"', "”", ")")
_DROP_CAP = re.compile(r"^([B-HJ-Z]) (?=[a-z]{2})")  # "T umoral" -> "Tumoral"
_NAV_SEPARATOR = re.compile(r"\s[>|»›/•·]\s")
_PAGE_NUMBER = re.compile(r"^\s*(page\s*)?\d{1,4}(\s*(of|/)\s*\d{1,4})?\s*$", re.I)

# Words typical of site chrome: navigation, calls to action, accounts, sharing, legal.
CHROME_WORDS = frozenset(
    """about accept access account advertise advertisement affiliation all app browse browser
    call cart citation cite click contact content cookie cookies copyright disclaimer download
    email endorsement facebook faq feedback follow footer full help home join linkedin log login
    menu more navigation newsletter now our owners page paper pdf permissions platform policy
    print privacy property queries read recommended register related reserved rights save
    schedule search session share sign signin site skip sponsorship subscribe support talk terms
    text third-party trademark twitter us version view warranties we website welcome
    you your""".split()
)
# Strong signals: one medical sentence almost never holds two of these.
LEGAL_WEB_WORDS = frozenset(
    """advertisement browser cookie cookies copyright copyrightlaw disclaimer endorsement login
    newsletter privacy sponsorship subscribe third-party trademark warranties website
    website/platform""".split()
)
HEADING_WORDS = frozenset(
    """abstract acknowledgement acknowledgements acknowledgment acknowledgments background
    bibliography case conclusion conclusions diagnosis discussion figure figures findings
    follow-up funding history introduction key keywords legends limitations management materials
    methods outcome presentation references report results summary table tables
    treatment words""".split()
)
REFERENCE_HEADINGS = frozenset(
    {"references", "bibliography", "literature cited", "works cited", "reference list", "notes"}
)


def normalize_unicode(text: str) -> str:
    """NFKC (ligatures, full-width forms), odd spaces to plain spaces, invisible marks removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    return _ODD_SPACES.sub(" ", text)


def dehyphenate(text: str) -> str:
    """Join words broken across lines ("hyper-\\nextension" -> "hyperextension")."""
    return _HYPHEN_BREAK.sub(r"\1\2", text)


def line_key(line: str) -> str:
    """A fingerprint that ignores case, digits and spacing, to spot repeated lines."""
    return re.sub(r"\s+", " ", re.sub(r"\d+", "0", line.strip().lower()))


def words(line: str) -> list[str]:
    return [w.lower().strip("'’") for w in _WORD.findall(line)]


def is_heading_word(line: str) -> bool:
    """True for standard section headings ("Case presentation", "REFERENCES", "Figure 2")."""
    key = re.sub(r"^[\d.\s]+", "", line.strip().lower()).rstrip(":").strip()
    if re.fullmatch(r"(fig\.?|figure|table)\s*\d+[a-z]?", key):
        return True
    if key in REFERENCE_HEADINGS:
        return True
    parts = key.split()
    return 0 < len(parts) <= 4 and all(w in HEADING_WORDS for w in parts)


def is_chrome(line: str, repeated: bool = False) -> bool:
    """Is this line site chrome rather than article text?

    Features: repeated across documents (articles do not share sentences, sites do),
    density of navigation / call-to-action vocabulary in a line that is not a sentence,
    and legal/web vocabulary that article prose does not use.
    """
    stripped = line.strip()
    ws = words(stripped)
    if not ws:
        return False
    if is_heading_word(stripped):
        return False
    if repeated:
        return True
    chrome = sum(w in CHROME_WORDS for w in ws)
    legal = sum(w in LEGAL_WEB_WORDS for w in ws) + stripped.count("©")
    if legal >= 2:
        return True
    if len(ws) <= 8 and len(_NAV_SEPARATOR.findall(stripped)) >= 2:
        return True  # breadcrumbs and menus: "Home > Journals > Case Reports"
    is_sentence = stripped.endswith(_TERMINAL) and len(ws) >= 4
    if not is_sentence and len(ws) <= 25 and chrome / len(ws) >= 0.3:
        return True
    return chrome / len(ws) >= 0.5 and len(ws) <= 40


def line_keys(text: str) -> set[str]:
    """Fingerprints of the lines (3+ words) of one document's raw text."""
    return {line_key(x) for x in text.splitlines() if len(words(x)) >= 3}


def common_line_keys(key_sets: Iterable[set[str]], min_docs: int = 2) -> set[str]:
    """Line fingerprints that occur in at least ``min_docs`` different documents."""
    counts: Counter[str] = Counter()
    for keys in key_sets:
        counts.update(keys)
    return {k for k, n in counts.items() if n >= min_docs}


def strip_running_lines(pages: list[str]) -> list[str]:
    """Drop page numbers and headers/footers repeated on many pages (first/last 2 lines)."""
    if len(pages) < 3:
        return [_drop_page_numbers(p) for p in pages]
    edge_counts: Counter[str] = Counter()
    for page in pages:
        lines = [x for x in page.splitlines() if x.strip()]
        edge_counts.update({line_key(x) for x in lines[:2] + lines[-2:]})
    threshold = max(2, len(pages) // 2)
    running = {k for k, n in edge_counts.items() if n >= threshold}
    cleaned = []
    for page in pages:
        lines = page.splitlines()
        nonblank = [i for i, x in enumerate(lines) if x.strip()]
        edges = set(nonblank[:2] + nonblank[-2:])
        kept = [x for i, x in enumerate(lines) if not (i in edges and line_key(x) in running)]
        cleaned.append(_drop_page_numbers("\n".join(kept)))
    return cleaned


def _drop_page_numbers(page: str) -> str:
    return "\n".join(x for x in page.splitlines() if not _PAGE_NUMBER.match(x))


def _is_heading(line: str, blank_before: bool) -> bool:
    s = line.strip()
    if s.startswith("#"):
        return True
    if is_heading_word(s):
        return not re.match(r"(fig\.?|figure|table)\s*\d", s, re.I)
    ws = words(s)
    if not ws or len(ws) > 10 or s.endswith((".", ",", ";", "…")) or not blank_before:
        return False
    if not s[0].isupper() and not s[0].isdigit():
        return False
    letters = [c for c in s if c.isalpha()]
    if letters and all(c.isupper() for c in letters) and len(letters) > 3:
        return True
    capitalised = sum(w[0].isupper() for w in s.split() if w[0].isalpha() and len(w) > 3)
    long_words = sum(1 for w in s.split() if w[0].isalpha() and len(w) > 3)
    return long_words >= 1 and capitalised == long_words and len(ws) <= 8


def clean_sections(
    blocks: list[Section], common_lines: set[str] | frozenset[str] = frozenset()
) -> list[Section]:
    """Cleaned sections from raw blocks (one per page, or per structured section).

    A block that already has a heading (JATS, HTML) keeps it; headings found inside a
    block's text start new sections. Text under a reference-list heading is dropped.
    """
    raw = [normalize_unicode(b.text) for b in blocks]
    if any(b.page is not None for b in blocks):
        raw = strip_running_lines(raw)
    sections: list[Section] = []
    heading: str | None = None
    for block, text in zip(blocks, raw, strict=True):
        if block.heading is not None:
            heading = block.heading.strip()
        paragraphs, heading = _paragraphs(dehyphenate(text), heading, common_lines)
        for head, para in paragraphs:
            last = sections[-1] if sections else None
            if last and last.heading == head and last.page == block.page:
                last.text += "\n" + para
            else:
                sections.append(Section(heading=head, text=para, page=block.page))
    return sections


def _is_references(heading: str | None) -> bool:
    return bool(heading) and heading.lower().rstrip(":") in REFERENCE_HEADINGS


def _paragraphs(
    text: str, heading: str | None, common_lines: set[str] | frozenset[str]
) -> tuple[list[tuple[str | None, str]], str | None]:
    """(heading, paragraph) pairs of one block, and the heading in force at its end."""
    paragraphs: list[tuple[str | None, str]] = []
    current: list[str] = []
    current_heading = heading
    blank_before, previous_key = True, ""

    def flush() -> None:
        para = _DROP_CAP.sub(r"\1", re.sub(r" {2,}", " ", " ".join(current)).strip())
        if para and not _is_references(current_heading):
            paragraphs.append((current_heading, para))
        current.clear()

    for line in text.splitlines():
        s = line.strip()
        key = line_key(s)
        if not s or is_chrome(s, repeated=key in common_lines):
            flush()
            blank_before = True
            continue
        if key == previous_key:  # a label captured twice ("Figure 1" / "figure 1")
            continue
        previous_key = key
        if _is_heading(s, blank_before):
            flush()
            heading = current_heading = s.lstrip("#").strip()
        else:
            current.append(s)
        blank_before = False
    flush()
    return paragraphs, heading
