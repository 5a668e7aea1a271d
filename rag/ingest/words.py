"""Run-together words repaired: "Thepatientwasadmitted" -> "The patient was admitted".

Some PDFs set words so tightly (or with kerning instead of space characters) that text
extraction finds no gap between them, and whole clauses come out as one token that
neither lexical search nor a reader can use. A token is taken for run-together words
when it is not a word: a long letter run that neither the English frequency list of
`wordsegment` (Google's web corpus), the embedding model's WordPiece vocabulary nor the
document itself knows. It is split by the most probable sequence of words, where the
document's own words and the vocabulary count as known, so that a drug, gene or
chemical name the document spells out on its own elsewhere ("tocilizumab") stays whole;
and neighbouring rare pieces of a split are joined again, because a medical compound
("pneumo" + "mediastinum") reads as rare pieces while run-together prose is made of
common words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import cache

MIN_RUN = 12  # letter runs shorter than this are words or harmless pairs ("ofthe")
LONG_RUN = 20  # at this length a letter run is almost never one English word
MAX_WORD = 30  # the longest word the search considers
UNKNOWN_BASE = 20.0  # -log10 probability of an unknown span: base + 1 per letter
KNOWN_COST = 6.0  # the cost of a word the document or the model's vocabulary knows
SPACED_MEDIAN = 8  # a line whose median token is this short or shorter is spaced
RARE_COST = 6.0  # pieces dearer than this are parts of one rare word, not prose
_RUN = re.compile(r"[A-Za-z]+")


@cache
def _unigrams() -> tuple[dict[str, float], float]:
    import wordsegment

    wordsegment.load()
    counts = wordsegment.UNIGRAMS
    return counts, float(sum(counts.values()))


@cache
def wordpiece_words() -> frozenset[str]:
    """Whole words (no "##" pieces, 4+ letters) of the bundled model's vocabulary."""
    from rag.config import bundled_model_dir

    path = bundled_model_dir() / "vocab.txt"
    if not path.exists():
        return frozenset()
    words = path.read_text(encoding="utf-8").split()
    return frozenset(w for w in words if len(w) >= 4 and w.isalpha())


def word_cost(word: str, known: frozenset[str] | set[str]) -> float:
    """-log10 of the word's probability; known words are cheap, unknown spans dear."""
    counts, total = _unigrams()
    count = counts.get(word)
    cost = -math.log10(count / total) if count else math.inf
    if word in known or word in wordpiece_words():
        cost = min(cost, KNOWN_COST)
    return UNKNOWN_BASE + len(word) if math.isinf(cost) else cost


def segment(run: str, known: frozenset[str] | set[str]) -> list[str]:
    """The cheapest split of a lower-case letter run into words (dynamic programming)."""
    n = len(run)
    best = [0.0] + [math.inf] * n
    back = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - MAX_WORD), end):
            if math.isinf(best[start]):
                continue
            cost = best[start] + word_cost(run[start:end], known)
            if cost < best[end]:
                best[end], back[end] = cost, start
    parts: list[str] = []
    end = n
    while end > 0:
        parts.append(run[back[end] : end])
        end = back[end]
    return parts[::-1]


def join_rare_pieces(parts: list[str], known: frozenset[str] | set[str]) -> list[str]:
    """A rare combining form joined to the rare piece after it ("pneumo mediastinum").

    Greek and Latin combining forms end in "o" (angio-, hemo-, lympho-); two rare
    words that are not such a pair ("thrombotic thrombocytopenic") stay apart.
    """
    out: list[str] = []
    for part in parts:
        rare = word_cost(part, known) > RARE_COST and part not in known
        prev = out[-1] if out else ""
        if rare and _combining_form(prev, known):
            out[-1] += part
        else:
            out.append(part)
    return out


def _combining_form(piece: str, known: frozenset[str] | set[str]) -> bool:
    return 3 <= len(piece) <= 7 and piece.endswith("o") and word_cost(piece, known) > RARE_COST


def is_word(token: str, known: frozenset[str] | set[str]) -> bool:
    """Known to the frequency list, the model's vocabulary or the document itself."""
    low = token.lower()
    counts, _ = _unigrams()
    return low in known or low in counts or low in wordpiece_words()


def split_run(token: str, known: frozenset[str] | set[str]) -> str:
    """The token with spaces put back between its words, or unchanged if it is a word.

    A run shorter than LONG_RUN is split only into common words, so that a rare word
    the lists miss is not cut into rarer pieces.
    """
    if len(token) < MIN_RUN or is_word(token, known):
        return token
    parts = join_rare_pieces(segment(token.lower(), known), known)
    if len(parts) == 1:
        return token
    if len(token) < LONG_RUN and any(word_cost(p, known) > RARE_COST for p in parts):
        return token
    out, pos = [], 0
    for part in parts:
        out.append(token[pos : pos + len(part)])
        pos += len(part)
    return " ".join(out)


def document_words(texts: Iterable[str]) -> set[str]:
    """Words the document spells out on their own, in lines set with ordinary spaces.

    A line of mostly short tokens is spaced; a long token there is a real word
    ("esophagogastroduodenoscopy"), unless it is common words run together ("ofthe").
    """
    out: set[str] = set()
    for text in texts:
        for line in text.splitlines():
            tokens = [t.lower() for t in _RUN.findall(line)]
            if _spaced(tokens):
                out.update(t for t in tokens if len(t) >= 4)
    return {w for w in out if not _common_words(w)}


def _spaced(tokens: list[str]) -> bool:
    """Five or more tokens, mostly short, at most one long: a line with its spaces."""
    if len(tokens) < 5 or sum(len(t) >= MIN_RUN for t in tokens) > 1:
        return False
    return sorted(map(len, tokens))[len(tokens) // 2] <= SPACED_MEDIAN


def _common_words(token: str) -> bool:
    """Does the token split into two or more common words ("ofthe", "andthepatient")?"""
    parts = segment(token, frozenset())
    return len(parts) > 1 and all(word_cost(p, frozenset()) <= RARE_COST - 1 for p in parts)


def repair_run_together(texts: list[str]) -> list[str]:
    """Each text with its run-together words split, judged against the document's words."""
    known = document_words(texts)
    return [_RUN.sub(lambda m: split_run(m.group(0), known), t) for t in texts]


def long_word_share(text: str, length: int = LONG_RUN) -> float:
    """The share of words (letter runs) at least ``length`` letters long."""
    runs = _RUN.findall(text)
    return sum(len(r) >= length for r in runs) / len(runs) if runs else 0.0
