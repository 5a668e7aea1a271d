"""Cut a line that holds more than one kind of text into pieces the cleaner can judge.

Text saved from a web page often loses its line breaks: a whole page, or a paragraph
with the menu before it, arrives as one line, and judged whole such a line is either all
chrome or all kept. Here a line is cut where one kind of text gives way to another: at
sentence ends (the chunker's own splitter, so a sentence is cut the same way everywhere),
before and after a section heading run into the sentence it heads ("Discussion Splenic
abscess is ..."), where a run of capitalised or navigation words gives way to a sentence
("Share Facebook Email He was ..."), before the items of a numbered list of links
("Most read 1. ... 2. ..."), and where a sentence starts after words with no full stop
("... when to worry Her blood tests ..."), before a copyright notice, and around short
web labels run onto an item ("... infectious mononucleosis Next post:", "... 10 mg daily
Most read", "Sponsored Acute appendicitis ..."). The cleaner keeps the cut only when it
finds something other than plain sentences in it, so ordinary paragraphs stay whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise

from rag.chunking import split_sentences
from rag.ingest.vocab import (
    CHROME_WORDS,
    FUNCTION_WORDS,
    HEADING_WORDS,
    LEGAL_WEB_WORDS,
    NAV_WORDS,
    REFERENCE_HEADINGS,
    is_heading_word,
    words,
)

Judge = Callable[[str], str]
MIN_WORDS = 8  # a line shorter than this is one thing already
_LIST_MARKER = re.compile(r"(?:(?<=\s)|^)(\d{1,2})\.\s+(?=[\"“(]?[A-Z])")
# Heading words that open sentences or captions too often to be cut off on their own.
_WEAK_HEADINGS = frozenset({"case", "key", "words", "figure", "figures", "table", "tables"})
# A sentence may start with these after a run of words that lacks a full stop.
# A notice starts at its sign, after a sentence or a list of titles ("... © 2024 Hub Ltd.").
_COPYRIGHT = re.compile(r"(?<!Copyright)\s+(?=(?:Copyright\s+)?©)")
_FULL_STOP = re.compile(r"[.!?…][\"”’)\]]*$")
_PRONOUN_OPENERS = frozenset({"He", "She", "His", "Her", "They", "Their"})
_MENU_MARKS = frozenset("|›»·•☰>/")


def _continues(previous: str, following: str, width: int) -> bool:
    """Is ``following`` the rest of a hard-wrapped line (a text-mode dump, a PDF column)?"""
    return (
        width >= 40
        and len(previous) >= 0.6 * width
        and len(words(previous)) >= 3
        and not _FULL_STOP.search(previous)
        and not is_heading_word(following)
        and not following.startswith("#")
    )


def logical_lines(text: str, judge: Judge) -> list[tuple[str, bool, list[str], str]]:
    """(line, blank line before it, physical lines, how it was found) with hard-wrapped
    lines joined back, and text that runs kinds of text together cut into pieces.

    Judging a wrapped paragraph line by line would see sentence fragments; judging the
    joined line sees the sentence, and a run of short menu or list lines stays short.
    How: "" for a line of text that kept its line breaks; for text that lost them,
    "piece" for a piece cut from a longer line and "loose" for a line left whole.
    ``judge`` says what a piece reads as (see ``restore``).
    """
    runs: list[tuple[bool, list[str]]] = []
    blank = True
    for raw in text.splitlines():
        line = re.sub(r" {2,}", " ", raw.strip())
        if not line:
            blank = True
            continue
        if blank or not runs:
            runs.append((blank, [line]))
        else:
            runs[-1][1].append(line)
        blank = False
    joined = _joined(runs, whole=False)
    cut = restore([x for x, _, _ in joined], judge)
    if cut is None:
        return [(x, blank, parts, "") for x, blank, parts in joined]
    # The page was wrapped, not its paragraphs: where a wrapped line ends says nothing.
    joined = _joined(runs, whole=True)
    cut = [pieces(x) for x, _, _ in joined]
    return [
        (p, blank and n == 0, [p] if len(pieces) > 1 else parts, _how(pieces))
        for (_, blank, parts), pieces in zip(joined, cut, strict=True)
        for n, p in enumerate(pieces)
    ]


def _how(pieces: list[str]) -> str:
    return "piece" if len(pieces) > 1 else "loose"


def _joined(runs: list[tuple[bool, list[str]]], whole: bool) -> list[tuple[str, bool, list[str]]]:
    """(line, blank before, physical lines): wrapped lines joined, or ``whole`` wrapped runs."""
    joined: list[tuple[str, bool, list[str]]] = []
    for blank_before, run in runs:
        width = max(len(x) for x in run)
        if whole and _wrapped(run, width):
            joined.append((" ".join(run), blank_before, run))
            continue
        parts = [run[0]]
        first = blank_before
        for line in run[1:]:
            if _continues(parts[-1], line, width):
                parts.append(line)
                continue
            joined.append((" ".join(parts), first, parts))
            parts, first = [line], False
        joined.append((" ".join(parts), first, parts))
    return joined


def _wrapped(run: list[str], width: int) -> bool:
    """Three or more lines, nearly all filled to the width: a hard-wrapped page."""
    full = sum(len(x) >= 0.6 * width for x in run[:-1])
    return len(run) >= 3 and width >= 40 and full >= 0.8 * (len(run) - 1)


def cut(line: str) -> list[str]:
    """The pieces of ``line``, in order; joined with spaces they give the line back."""
    pieces: list[str] = []
    for part in [p for item in _list_items(line) for p in _COPYRIGHT.split(item)]:
        for span in split_sentences(part):
            pieces += _cut_sentence(part[span.start : span.end].split())
    return _marker_joined(pieces)


def _list_items(line: str) -> list[str]:
    """The line cut before each marker of a numbered run ("1. A ... 2. B ... 3. C")."""
    marks = [(int(m.group(1)), m.start()) for m in _LIST_MARKER.finditer(line)]
    starts = {
        pos
        for k, (n, pos) in enumerate(marks)
        for other, _ in marks[k + 1 : k + 2] + marks[max(0, k - 1) : k]
        if abs(other - n) == 1
    }
    bounds = [0, *sorted(starts - {0}), len(line)]
    return [line[a:b].strip() for a, b in pairwise(bounds) if line[a:b].strip()]


def _marker_joined(pieces: list[str]) -> list[str]:
    """A lone list marker ("2.") put back in front of its item."""
    out: list[str] = []
    for piece in pieces:
        if out and re.fullmatch(r"\d{1,2}\.", out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def _cut_sentence(tokens: list[str]) -> list[str]:
    """One sentence's tokens cut where a heading, chrome or another sentence runs in."""
    cuts = {0, len(tokens)}
    for j, k in _heading_runs(tokens):
        cuts |= {j, k}
    cuts |= _list_leads(tokens)
    for a, b in pairwise(sorted(cuts)):
        cuts.add(a + _leading_label(tokens[a:b]))
        while end := _trailing_label(tokens[a:b]):  # "... daily Advertisement Continue ..."
            b = a + end
            cuts.add(b)
    for a, b in pairwise(sorted(cuts)):
        i = _sentence_start(tokens[a:b])
        if i:
            cuts.add(a + i)
    bounds = sorted(cuts)
    return [" ".join(tokens[a:b]) for a, b in pairwise(bounds) if b > a]


def _joins(token: str) -> bool:
    """Does this token hold on to the next ("of", "with,", "(")?"""
    return token.endswith((",", ";", "(")) or token.lower() in FUNCTION_WORDS


def _bare(token: str) -> str:
    return token.strip("()[]{},.:;!?\"'“”‘’").lower()


def _capitalised(token: str) -> bool:
    letters = token.lstrip("(\"'“‘[")
    return bool(letters) and (letters[0].isupper() or not any(c.isalpha() for c in letters))


def _lower(token: str) -> bool:
    letters = token.lstrip("(\"'“‘[")
    return bool(letters) and (letters[0].islower() or letters[0].isdigit())


def _reads_as_prose(tokens: list[str]) -> bool:
    """A sentence's opening: a capital, then mostly lower-case words with function words."""
    window = tokens[:12]
    rest = window[1:]
    if len(window) < 4 or not window[0].lstrip("(\"'“‘[")[:1].isupper():
        return False
    lower = sum(_lower(t) for t in rest)
    return lower / len(rest) >= 0.6 and any(_bare(t) in FUNCTION_WORDS for t in rest)


def chrome_run(tokens: list[str]) -> bool:
    """Menu items, labels and counters: capitalised or navigation words, no sentence."""
    if not tokens:
        return False
    bare = [_bare(t) for t in tokens]
    function = sum(w in FUNCTION_WORDS for w in bare)
    chrome = sum(w in NAV_WORDS for w in bare)
    odd = sum(not any(c.isalpha() for c in t) for t in tokens)  # counters, dates, "|"
    capital = sum(_capitalised(t) or w in NAV_WORDS for t, w in zip(tokens, bare, strict=True))
    n = len(tokens)
    if chrome >= 0.3 * n and function <= max(1, n // 3):
        return True  # "Rights and permissions Reprints and permissions About this article"
    if function > max(1, n // 5) or capital / n < 0.7:
        return False
    # Two or three capitalised words may be a term ("Computed Tomography showed").
    return bool(chrome or odd) or n >= 4


def menu_run(piece: str) -> bool:
    """A run of menu items, labels and counters ("PMC5932443 Published online 2017 Oct 15.",
    "Services on Demand Journal SciELO Analytics Google Scholar H5M5"); not a sentence."""
    tokens = piece.split()
    if not chrome_run(tokens):
        return False
    odd = sum(not any(c.isalpha() for c in t) for t in tokens)
    return web_words(piece) or odd >= 2 or len(tokens) >= 6


def _sentence_start(tokens: list[str]) -> int:
    """Where a sentence starts after chrome or a title in these tokens, or 0."""
    for i in range(len(tokens) - 4, 0, -1):
        if not _capitalised(tokens[i]) or not _reads_as_prose(tokens[i:]):
            continue
        before = tokens[i - 1]
        if _joins(before):
            continue
        if chrome_run(tokens[:i]):
            return i
        if before[-1:].isalpha() and before.islower() and _opens(tokens[i]):
            return i
    return 0


def _list_leads(tokens: list[str]) -> set[int]:
    """Cuts after a lead-in that announces a list ("Treatment given: Plasma exchange ...")."""
    cuts = set()
    for i, token in enumerate(tokens[:-1]):
        if token.endswith(":") and _capitalised(tokens[i + 1]):
            lead = tokens[max(0, i - 5) : i + 1]
            if len(lead) >= 3 and sum(_lower(t) for t in lead[1:]) >= len(lead) // 2:
                cuts.add(i + 1)
    return cuts


def _leading_label(tokens: list[str]) -> int:
    """1 when a web label opens the tokens before a capitalised item ("Sponsored Acute
    appendicitis ..."), else 0: a strong web word, which no list item starts with."""
    if len(tokens) > 1 and _capitalised(tokens[0]) and _capitalised(tokens[1]):
        return int(_bare(tokens[0]) in LEGAL_WEB_WORDS)
    return 0


def _trailing_label(tokens: list[str]) -> int:
    """Where a label that ends the tokens starts ("... mononucleosis Next post:", "... 10 mg
    daily Most read", "... 2019 Reading time:"), or 0: up to three words, the first
    capitalised, one a navigation word, no full stop, after a lower-case word (or after
    any word when the label opens with the navigation word); a sentence does not end so."""
    for i in range(len(tokens) - 1, max(0, len(tokens) - 4), -1):
        label, before = tokens[i:], tokens[i - 1]
        opens = _bare(label[0]) in NAV_WORDS
        if (
            _capitalised(label[0])
            and any(c.isalpha() for c in label[0])
            and (opens or any(_bare(t) in NAV_WORDS for t in label) and before[:1].islower())
            and not _FULL_STOP.search(label[-1])
            and not _joins(before)
            and before[-1:].isalnum()
        ):
            return i
    return 0


def _opens(token: str) -> bool:
    """A word that, capitalised after a lower-case word, starts a new sentence: a pronoun
    ("... when to worry Her blood ...") or a call to action ("... arteritis Sign up ...")."""
    return token in _PRONOUN_OPENERS or _bare(token) in NAV_WORDS


def _heading_runs(tokens: list[str]) -> list[tuple[int, int]]:
    """(start, end) of section headings run into the sentence after them."""
    runs: list[tuple[int, int]] = []
    j = 0
    while j < len(tokens):
        k = _heading_end(tokens, j)
        if k and (_reads_as_prose(tokens[k:]) or _ends_line(tokens, j, k)):
            runs.append((j, k))
            j = k
        else:
            j += 1
    return runs


def _ends_line(tokens: list[str], j: int, k: int) -> bool:
    """A heading at the end of a line, after other text (its paragraph is the next line);
    not a reference-list heading, whose section is dropped whole."""
    heading = " ".join(_bare(t) for t in tokens[j:k])
    return j > 0 and k == len(tokens) and heading not in REFERENCE_HEADINGS


def _heading_end(tokens: list[str], j: int) -> int:
    """The end of a heading of up to four heading words starting at ``j``, or 0."""
    if not _capitalised(tokens[j]) or _bare(tokens[j]) not in HEADING_WORDS:
        return 0
    if j and _joins(tokens[j - 1]):
        return 0
    end = 0
    for k in range(j, min(j + 4, len(tokens))):
        word = _bare(tokens[k])
        if word in HEADING_WORDS:
            end = k + 1
        elif word != "and":
            break
    if end and all(_bare(t) in _WEAK_HEADINGS | {"and"} for t in tokens[j:end]):
        return 0
    return end


def pieces(line: str) -> list[str]:
    """``cut(line)``, or the line itself when it is too short to hold two kinds of text."""
    return cut(line) if len(line.split()) >= MIN_WORDS else [line]


def restore(lines: list[str], judge: Judge) -> list[list[str]] | None:
    """Each line's pieces when the text runs kinds of text together, else None.

    ``judge`` says what a piece reads as ("heading", "chrome", "prose" or "other"). Text
    runs kinds together when a heading or web chrome runs straight into a sentence on
    one line, or a line ends with a heading, which text that kept its line breaks does
    not do; only then is any line cut, so such text is judged line by line as before.
    """
    cuts = [pieces(x) for x in lines]
    kinds = [[judge(p) for p in ps] for ps in cuts]
    for n, (ps, ks) in enumerate(zip(cuts, kinds, strict=True)):
        after = kinds[n + 1][0] if n + 1 < len(kinds) else ""
        if _runs_together(ps, [*ks, after]):
            return cuts
    return None


def _runs_together(pieces: list[str], kinds: list[str]) -> bool:
    """Does a heading or chrome run into prose (or a heading end the line before prose)?"""
    for n, (piece, kind, after) in enumerate(zip(pieces, kinds, kinds[1:], strict=False)):
        if after != "prose" or piece.endswith((".", "!", "?")):
            continue  # a sentence after a sentence: no line break was lost there
        if kind == "heading" and (n + 1 < len(pieces) or n > 0):
            return True
        if kind == "chrome" and n + 1 < len(pieces) and any(map(web_words, _run(pieces, kinds, n))):
            return True
    return False


def _run(pieces: list[str], kinds: list[str], n: int) -> list[str]:
    """The chrome pieces that end at ``n`` ("Received: 22 March 2016;", "Accepted: ...")."""
    start = n
    while start and kinds[start - 1] == "chrome":
        start -= 1
    return pieces[start : n + 1]


def web_words(piece: str) -> bool:
    """Navigation words or menu marks: web chrome, not a by-line or a reference."""
    tokens = piece.split()
    return any(_bare(t) in NAV_WORDS or t in _MENU_MARKS for t in tokens)


def piece_chrome(piece: str) -> bool:
    """Chrome that a piece cut from a longer line shows: menu items, labels and counters,
    or a sentence about the site ("We use cookies to personalise content ...")."""
    if menu_run(piece):
        return True
    ws = words(piece)
    legal = any(w in LEGAL_WEB_WORDS for w in ws)
    return legal and sum(w in CHROME_WORDS for w in ws) >= 0.3 * len(ws)


def prose_sentences(text: str) -> list[str]:
    """Sentences that read as prose: eight words or more, mostly lower case, with at least
    two function words; menus, by-lines and references do not."""
    flat = " ".join(text.split())
    out = []
    for span in split_sentences(flat):
        tokens = flat[span.start : span.end].split()
        lower = sum(_lower(t) for t in tokens)
        function = sum(_bare(t) in FUNCTION_WORDS for t in tokens)
        if len(tokens) >= 8 and lower >= 0.6 * len(tokens) and function >= 2:
            out.append(" ".join(tokens))
    return out
