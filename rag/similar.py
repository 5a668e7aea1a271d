"""Similar cases: the case reports that best match a patient summary.

A report scores by how close its passages are to the summary (the embedding model) plus
how many of its card's fields agree with the card read from the summary itself: age
within ``AGE_RANGE`` years, the same sex, a shared spinal level or site word, a shared
condition word. The fields that agree are shown with the report's cited sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.cards import FieldReader, age_and_sex
from rag.chunking import split_sentences
from rag.documents import CardField, CaseCard

AGE_RANGE = 10
FIELD_WEIGHT = 0.05  # each agreeing field, next to a cosine similarity in [0, 1]
_WORD = re.compile(r"[a-z][a-z0-9-]{3,}")
_GENERIC = frozenset(
    """patient patients with without which after before their there this that from were
    have has had been being also into onto left right presented presenting history""".split()
)


@dataclass
class Match:
    card: CaseCard
    score: float
    similarity: float
    matched: dict[str, str] = field(default_factory=dict)  # field -> the report's quote


def summary_card(summary: str, reader: FieldReader) -> CaseCard:
    """The card of a pasted patient summary, read as a tiny case report (a summary keeps
    no order: its fields stand anywhere)."""
    sentences = [summary[s.start : s.end] for s in split_sentences(summary)]
    age, sex = age_and_sex(sentences)
    fields = {
        "age": age, "sex": sex, **reader.read_fields(sentences, ordered=False)
    }  # fmt: skip
    return CaseCard("summary", "", fields=fields)


def _words(f: CardField | None) -> set[str]:
    if f is None:
        return set()
    return {w for w in _WORD.findall(f.quote.lower()) if w not in _GENERIC}


def agreeing_fields(query: CaseCard, card: CaseCard, summary: str) -> dict[str, str]:
    """The fields of ``card`` that agree with the summary, with the card's quotes."""
    q, c = query.fields, card.fields
    matched: dict[str, str] = {}
    if (
        q.get("age")
        and c.get("age")
        and abs(int(q["age"].value) - int(c["age"].value)) <= AGE_RANGE
    ):
        matched["age"] = c["age"].quote
    if q.get("sex") and c.get("sex") and q["sex"].value == c["sex"].value:
        matched["sex"] = c["sex"].quote
    summary_words = {w for w in _WORD.findall(summary.lower()) if w not in _GENERIC}
    for name in ("site", "diagnosis", "complaint"):
        theirs = c.get(name)
        if theirs is None:
            continue
        levels = str(theirs.value or "")
        if (levels and any(lv in summary for lv in levels.split(", "))) or (
            _words(theirs) & summary_words
        ):
            matched[name] = theirs.quote
    return matched


def rank_cases(
    summary: str,
    query: CaseCard,
    cards: list[CaseCard],
    similarity: dict[str, float],
) -> list[Match]:
    """Cards ranked best first; ``similarity`` maps doc_id to its passages' best cosine."""
    matches = []
    for card in cards:
        sim = similarity.get(card.doc_id, 0.0)
        matched = agreeing_fields(query, card, summary)
        matches.append(Match(card, sim + FIELD_WEIGHT * len(matched), sim, matched))
    return sorted(matches, key=lambda m: -m.score)


def passage_similarity(store, vector, depth: int = 300) -> dict[str, float]:
    """Each document's best passage cosine to the summary, over the closest passages."""
    ranked = store.dense_search(vector, depth)
    rows = store.chunks([i for i, _ in ranked])
    best: dict[str, float] = {}
    for chunk_id, score in ranked:
        if chunk_id in rows:
            doc_id = rows[chunk_id][0].doc_id
            best[doc_id] = max(best.get(doc_id, -1.0), float(score))
    return best
