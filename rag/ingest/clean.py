"""Turn raw extracted text into clean sections.

Unicode normalisation, de-hyphenation, running headers/footers and page numbers, web
site chrome (navigation, calls to action, legal notices, lines repeated across
documents) and reference lists. The chrome detector looks at general line features,
never at a list of particular phrases, because every site has its own; and it judges a
line with its neighbours: a short line that is not a sentence is a heading when prose
follows it, an item of the article's list when a lead-in announces it, and chrome when it
sits with chrome or outside the article's first and last paragraphs.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

from rag.documents import Section
from rag.ingest import segments
from rag.ingest.repeats import around_repeated, key_starts, line_key, strip_running_lines
from rag.ingest.repeats import common_line_keys as common_line_keys
from rag.ingest.vocab import (
    CHROME_WORDS,
    LEGAL_WEB_WORDS,
    REFERENCE_HEADINGS,
    is_heading_word,
    words,
)

log = logging.getLogger(__name__)
_ODD_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\f\v]")
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")
_HYPHEN_BREAK = re.compile(r"(\w)-\n[ \t]*([a-z])")
_TERMINAL = (".", "!", "?", ":", ";", "…", '"', "”", ")")
_DROP_CAP = re.compile(r"^([B-HJ-Z]) (?=[a-z]{2})")  # "T umoral" -> "Tumoral"
_CAPTION = re.compile(r"(fig\.?|figure|table)\s*\d", re.I)
_RUNNING_MARK = re.compile(r"\b(?:19|20)\d{2}\b|\bpage\b", re.I)  # a year, or "page"
_FULL_STOP = re.compile(r"[.!?…][\"”’)\]]*$")
# A citation number glued after the full stop ("a useful diagnostic marker.4", "joints.1-6"),
# as text extracted from a journal PDF prints superscripts, still ends a sentence.
_GLUED_CITATION = r"(?:(?<=[a-z%)\]][.!?])\d{1,3}(?:[,–-]\d{1,3})*)?"
_SENTENCE_END = re.compile(r"[.!?…:;][\"”’)\]]*" + _GLUED_CITATION + "$")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_INNER_SENTENCE_END = re.compile(r"[a-z%)\]][.!?][\"”’)\]]*" + _GLUED_CITATION + r"\s+[A-Z]")
_NAV_SEPARATOR = re.compile(r"\s[>|»›/•·]\s")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# Academic degrees after author names; not MS or DO, which prose uses (multiple sclerosis).
_DEGREE = re.compile(
    r"(?<![A-Za-z])(?:MD|PhD|MSc|MBBS|MBChB|MPH|FRCS|FRCP|FRCPC|FACS|DPhil|BSc|PharmD|DMD|DDS)"
    r"(?![A-Za-z])"
)
_NEW_LIST = re.compile(r"1\.\s")

MIN_PROSE_SENTENCES = 10  # a text with this many prose sentences is an article
KEEP_SHARE = 0.2  # cleaning that keeps less of its prose than this has misjudged the text


def normalize_unicode(text: str) -> str:
    """NFKC (ligatures, full-width forms), odd spaces to plain spaces, invisible marks removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    return _ODD_SPACES.sub(" ", text)


def dehyphenate(text: str) -> str:
    """Join words broken across lines ("hyper-\\nextension" -> "hyperextension")."""
    return _HYPHEN_BREAK.sub(r"\1\2", text)


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
    # Two legal/web words in one sentence: a paragraph may name "the website" twice.
    legal = max(
        sum(w in LEGAL_WEB_WORDS for w in words(sentence)) + sentence.count("©")
        for sentence in _SENTENCE_BREAK.split(stripped)
    )
    if legal >= 2:
        return True
    if len(ws) <= 8 and len(_NAV_SEPARATOR.findall(stripped)) >= 2:
        return True  # breadcrumbs and menus: "Home > Journals > Case Reports"
    is_sentence = stripped.endswith(_TERMINAL) and len(ws) >= 4
    if not is_sentence and len(ws) <= 25 and chrome / len(ws) >= 0.3:
        return True
    return chrome / len(ws) >= 0.5 and len(ws) <= 40


def is_front_matter(line: str) -> bool:
    """Is this paragraph an author by-line, affiliation or correspondence block?

    Such blocks name an e-mail address or list academic degrees ("Tal Gazitt, MD, MSc,
    Joy Feld, MD, ..."); a passage made of them answers no clinical question. The
    metadata loaders read authors before cleaning, so nothing is lost for citations.
    """
    return bool(_EMAIL.search(line)) or len(_DEGREE.findall(line)) >= 3


def line_keys(text: str) -> set[str]:
    """Fingerprints of the lines (3+ words) of one document's raw text, wrapped lines joined."""
    lines = logical_lines(normalize_unicode(text))
    return {line_key(x) for x, _, _, _ in lines if len(words(x)) >= 3}


def _heading_form(line: str) -> bool:
    """Short, capitalised, not a sentence: what a section heading looks like."""
    s = line.strip()
    ws = words(s)
    if not ws or len(ws) > 10 or s.endswith((".", ",", ";", "…")):
        return False
    return s[0].isupper() or s[0].isdigit()


def _is_sentence(line: str) -> bool:
    """Ends like a sentence, or is a paragraph of sentences whose last one was cut off.

    Abstracts often end in a citation ("JAMA. 2000;284:993-1000") or a truncation mark;
    menus and footers never run to twenty words across a sentence boundary.
    """
    n = len(words(line))
    if n >= 4 and _SENTENCE_END.search(line):
        return True
    return n >= 20 and bool(_INNER_SENTENCE_END.search(line))


def logical_lines(text: str) -> list[tuple[str, bool, list[str], str]]:
    """``segments.logical_lines`` with this module's judge of what a piece reads as."""
    return segments.logical_lines(text, _judge)


def _no_words(ln: _Line) -> bool:
    """A piece of flattened text without one lower-case word: a journal's abbreviated name
    or a run of titles ("J Invent Clin Cases."), not a sentence, whatever its end."""
    return bool(ln.how) and not any(t[:1].isalpha() and t[:1].islower() for t in ln.text.split())


def _judge(piece: str) -> str:
    """What a piece cut from a line reads as: heading, chrome, prose or other."""
    if is_heading_word(piece):
        return "heading"
    if is_chrome(piece) or segments.chrome_run(piece.split()):
        return "chrome"
    # A lead-in ("Next post:", "Treatment given:") says nothing about lost line breaks.
    return "prose" if _is_sentence(piece) and not piece.endswith(":") else "other"


@dataclass
class _Line:
    text: str
    block: int
    blank_before: bool
    parts: list[str]
    fixed: bool  # from a block with its own heading: its lines are text or chrome, no more
    how: str = ""  # "piece" or "loose" in text that lost its line breaks (logical_lines)
    kind: str = ""  # P prose, H heading, C chrome, S short non-sentence (undecided)


def _cut_repeated(lines: list[_Line], common: set[str] | frozenset[str]) -> list[_Line]:
    """Lines of text that lost its line breaks, with lines that other documents repeat
    cut out of them ("... was made: Print version ISSN 0482-5004 Acute appendicitis")."""
    starts = key_starts(common)
    out: list[_Line] = []
    for ln in lines:
        if not ln.how or not starts or line_key(ln.text) in common:
            out.append(ln)
            continue
        pieces = around_repeated(ln.text, starts, line_key)
        how = "piece" if len(pieces) > 1 else ln.how
        first = ln.blank_before
        out += [
            _Line(p, ln.block, first and not n, [p], ln.fixed, how) for n, p in enumerate(pieces)
        ]
    return out


def _classify(lines: list[_Line], common_lines: set[str] | frozenset[str]) -> None:
    """Label each line prose, heading or chrome, looking at its neighbours too.

    A short line that is not a sentence is a heading when prose follows it; otherwise it
    belongs with what surrounds it: next to chrome it is chrome (the rest of a menu, a
    list of related articles, a by-line with a view counter), and so is any such line
    above the first heading or prose line or below the last prose line (mastheads and
    footers), and so is one standing alone before a heading. Short lines that a lead-in
    ending with a colon announces, or that stand between paragraphs of prose, are the
    article's own lists and are kept.
    """
    for ln in lines:
        ln.kind = _own_kind(ln, common_lines)
    _mark_headings(lines)
    _mark_lists(lines)
    _mark_surrounded(lines)


def _own_kind(ln: _Line, common_lines: set[str] | frozenset[str]) -> str:
    """What a line is on its own: P, H, C, or S (a short non-sentence, undecided)."""
    s = ln.text
    keys = [line_key(p) for p in ln.parts if len(words(p)) >= 3]
    repeated = line_key(s) in common_lines or bool(keys and all(k in common_lines for k in keys))
    if s.startswith("#"):
        return "H"
    if is_front_matter(s):
        return "C"
    if ln.fixed:
        return "C" if is_chrome(s, repeated) else "P"
    if _CAPTION.match(s):
        return "P"  # a figure or table label or caption is text, never a heading
    if is_heading_word(s):
        return "H"
    if is_chrome(s, repeated) or ln.how and segments.piece_chrome(s):
        return "C"
    return "P" if _is_sentence(s) and not _no_words(ln) else "S"


def _without_running_lines(lines: list[_Line], common: set[str] | frozenset[str]) -> list[_Line]:
    """The lines less those that a document repeats, digits aside, apart from each other,
    short and with a year or a page in them: a journal's running footer ("Resp Case J
    2024;9(6):e0412 page 1 of 3"), which a text file keeps without the page breaks that
    would show it for one. Dropped, not marked chrome: a table beside it is still text."""
    seen: dict[str, list[int]] = {}
    for i, ln in enumerate(lines):
        if _RUNNING_MARK.search(ln.text) and _own_kind(ln, common) == "S":
            seen.setdefault(line_key(ln.text), []).append(i)
    running = {i for rows in seen.values() if rows[-1] - rows[0] >= 3 for i in rows}
    return [ln for i, ln in enumerate(lines) if i not in running]


def _mark_headings(lines: list[_Line]) -> None:
    """A short line in heading form that opens a paragraph of prose is its heading."""
    for i, ln in enumerate(lines):
        if ln.kind != "S" or i + 1 == len(lines) or lines[i + 1].kind != "P":
            continue
        before = lines[i - 1] if i else None
        opens = (
            before is None
            or before.block != ln.block
            or before.kind in ("C", "H")
            or before.kind == "P"
            and bool(_FULL_STOP.search(before.text))
        )
        # A heading's paragraph opens with a capital; one that goes on in lower case
        # continues a sentence wrapped early ("A 14-year-old girl was referred with / nine").
        runs_on = lines[i + 1].text[:1].islower()
        if opens and ln.how != "piece" and not runs_on and _heading_form(ln.text):
            ln.kind = "H"


def _mark_lists(lines: list[_Line]) -> None:
    """Short lines after a lead-in that ends with a colon are the list it announces ("L"),
    up to a list numbered from 1 again or a chrome label's own list ("Next post: ...")."""
    lead_in, previous = False, ""
    for ln in lines:
        if ln.kind == "S" and lead_in and not (_NEW_LIST.match(ln.text) and previous == "L"):
            ln.kind = "L"
        elif ln.kind != "C":
            lead_in = ln.kind in ("P", "L") and (ln.kind == "L" or ln.text.endswith(":"))
        elif ln.text.endswith(":"):
            lead_in = False
        previous = ln.kind if ln.kind != "C" else previous


def _mark_surrounded(lines: list[_Line]) -> None:
    """Undecided lines outside the article, alone before a heading, or next to chrome."""
    body = [i for i, ln in enumerate(lines) if ln.kind in ("P", "H")]
    prose = [i for i, ln in enumerate(lines) if ln.kind == "P"]
    first, last = (body[0], prose[-1]) if prose else (len(lines), -1)
    for i, ln in enumerate(lines):
        if ln.kind == "S" and (i < first or i > last):
            ln.kind = "C"
    for i, ln in enumerate(lines):
        # Alone between prose and a heading: a sponsor label, a vote bar, a stray link.
        after = lines[i + 1].kind if i + 1 < len(lines) else "C"
        before = lines[i - 1].kind if i else "C"
        if ln.kind == "S" and after in ("H", "C") and before != "S":
            ln.kind = "C"
    changed = True
    while changed:
        changed = False
        for i, ln in enumerate(lines):
            if ln.kind != "S":
                continue
            near = [lines[j].kind for j in (i - 1, i + 1) if 0 <= j < len(lines)]
            if "C" in near:
                ln.kind, changed = "C", True


def clean_sections(
    blocks: list[Section],
    common_lines: set[str] | frozenset[str] = frozenset(),
    structured: bool = False,
    warnings: list[str] | None = None,
) -> list[Section]:
    """Cleaned sections from raw blocks (one per page, or per structured section).

    A block that already has a heading (JATS, HTML) keeps it; headings found inside a
    block's text start new sections. Text under a reference-list heading is dropped.
    ``structured`` blocks (JATS: markup says what is a heading and what is prose) keep
    their own heading, and no line of theirs is judged chrome or a heading. When the
    rules would leave almost nothing of a text with plenty of prose, its prose sentences
    are kept instead, and ``warnings`` is told why.
    """
    if structured:
        return _structured_sections(blocks)
    return _kept_prose(blocks, _cleaned(blocks, common_lines), warnings)


def _kept_prose(
    blocks: list[Section], sections: list[Section], warnings: list[str] | None
) -> list[Section]:
    """``sections``, or every block's prose sentences if cleaning left under a fifth of them.

    A file is never dropped whole without a word: a site whose every sentence the rules
    take for chrome is kept as its sentences, with a warning to read it.
    """
    prose = [segments.prose_sentences(normalize_unicode(b.text)) for b in blocks]
    prose_words = sum(len(x.split()) for ps in prose for x in ps)
    kept = sum(len(s.text.split()) for s in sections)
    if sum(map(len, prose)) < MIN_PROSE_SENTENCES or kept >= KEEP_SHARE * prose_words:
        return sections
    message = (
        f"cleaning would have kept {kept} of its {prose_words} words of prose; keeping its "
        f"{sum(map(len, prose))} prose sentences, site chrome and all"
    )
    log.warning(message)
    if warnings is not None:
        warnings.append(message)
    return [
        Section(heading=None, text=" ".join(ps), page=b.page)
        for b, ps in zip(blocks, prose, strict=True)
        if ps
    ]


def _cleaned(blocks: list[Section], common_lines: set[str] | frozenset[str]) -> list[Section]:
    """The rules' sections: lines classified, chrome and references dropped."""
    raw = [normalize_unicode(b.text) for b in blocks]
    if any(b.page is not None for b in blocks):
        raw = strip_running_lines(raw)
    lines = [
        _Line(text, n, blank, parts, fixed=block.heading is not None, how=how)
        for n, (block, page_text) in enumerate(zip(blocks, raw, strict=True))
        for text, blank, parts, how in logical_lines(dehyphenate(page_text))
    ]
    lines = _without_running_lines(_cut_repeated(lines, common_lines), common_lines)
    _classify(lines, common_lines)
    sections: list[Section] = []
    heading: str | None = None
    current: list[str] = []
    block_no, previous_key = -1, ""

    def flush() -> None:
        para = _DROP_CAP.sub(r"\1", " ".join(current).strip())
        current.clear()
        if not para or _is_references(heading):
            return
        page = blocks[block_no].page
        last = sections[-1] if sections else None
        if last and last.heading == heading and last.page == page:
            last.text += "\n" + para
        else:
            sections.append(Section(heading=heading, text=para, page=page))

    for ln in lines:
        if ln.block != block_no:
            flush()
            block_no = ln.block
            if blocks[block_no].heading is not None:
                heading = blocks[block_no].heading.strip()
        if ln.blank_before or ln.kind in ("C", "H"):
            flush()
        if ln.kind == "C":
            continue
        if ln.kind == "H":
            heading = ln.text.lstrip("#").strip()
            continue
        key = line_key(ln.text)
        if key == previous_key:  # a label captured twice ("Figure 1" / "figure 1")
            continue
        previous_key = key
        current.append(ln.text)
    flush()
    return sections


def _structured_sections(blocks: list[Section]) -> list[Section]:
    sections: list[Section] = []
    for block in blocks:
        heading = block.heading.strip() if block.heading else None
        if _is_references(heading):
            continue
        lines = normalize_unicode(block.text).split("\n")
        text = "\n".join(re.sub(r" {2,}", " ", x).strip() for x in lines if x.strip())
        if not text:
            continue
        last = sections[-1] if sections else None
        if last and last.heading == heading and last.page == block.page:
            last.text += "\n" + text
        else:
            sections.append(Section(heading=heading, text=text, page=block.page))
    return sections


def _is_references(heading: str | None) -> bool:
    return bool(heading) and heading.lower().rstrip(":") in REFERENCE_HEADINGS
