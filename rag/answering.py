"""Extractive, cited answers: sentences quoted verbatim from retrieved passages, or abstain.

Each candidate sentence is scored by cosine similarity to the question (the same
embedding model as retrieval) plus the share of the question's content words it
contains. When even the best sentence scores below ``abstain_threshold`` the answer
says plainly that the indexed case reports do not answer, and the hits are shown as
the closest passages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.answer_types import expected_type, named_drugs
from rag.chunking import quotable_sentences
from rag.config import Settings
from rag.documents import Answer, Citation, Hit
from rag.embedding import Embedder
from rag.store import STOPWORDS, Store

ABSTAIN_TEXT = "The indexed case reports do not answer this question."
LEXICAL_WEIGHT = 0.3  # weight of question-word coverage next to cosine similarity
RANK_PENALTY = 0.01  # per passage rank: prefer the better-retrieved passage on ties
MERGE_SIMILARITY = 0.9  # two sentences this similar say the same thing: keep one
KEEP_MARGIN = 0.08  # further sentences must score within this of the best
ANSWER_PASSAGES = 5
TYPE_BONUS = 0.1  # a sentence stating the fact the question asks for


@dataclass
class Candidate:
    hit: Hit
    start: int
    end: int
    vector: np.ndarray | None = None
    score: float = 0.0

    @property
    def sentence(self) -> str:
        return self.hit.chunk.text[self.start : self.end]


def content_terms(text: str) -> set[str]:
    """Lower-cased content words cut to a 5-letter stem ("fixation" ~ "fixated")."""
    return {
        w[:5] for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS and len(w) > 1
    }


def coverage(question_terms: set[str], sentence: str) -> float:
    if not question_terms:
        return 0.0
    return len(question_terms & content_terms(sentence)) / len(question_terms)


class Answerer:
    def __init__(self, embedder: Embedder, settings: Settings, store: Store | None = None):
        self.embedder = embedder
        self.settings = settings
        self.store = store

    def candidates(self, hits: list[Hit]) -> list[Candidate]:
        """Quotable sentences of the top passages, with vectors (precomputed where indexed)."""
        top = hits[:ANSWER_PASSAGES]
        stored = self.store.sentences(h.chunk.chunk_id for h in top) if self.store else {}
        out: list[Candidate] = []
        missing: list[Candidate] = []
        for hit in top:
            rows = stored.get(hit.chunk.chunk_id)
            if rows:
                out += [Candidate(hit, a, b, v) for a, b, v in rows]
            else:
                spans = quotable_sentences(hit.chunk.text)
                new = [Candidate(hit, sp.start, sp.end) for sp in spans]
                out += new
                missing += new
        if missing:
            vectors = self.embedder.encode([c.sentence for c in missing], progress=False)
            for c, v in zip(missing, vectors, strict=True):
                c.vector = v
        return out

    def answer(self, question: str, hits: list[Hit]) -> Answer:
        candidates = self.candidates(hits)
        if not candidates:
            return self._abstain(question, hits, 0.0, "No passage matched the question.")
        missing = self._unnamed_drugs(question, hits)
        if missing:
            return self._abstain(
                question, hits, 0.0, f"None of the closest passages mentions {missing}."
            )
        q = self.embedder.encode_query(question)
        vectors = np.stack([c.vector for c in candidates])
        similarity = vectors @ q
        terms = content_terms(question)
        for c, sim in zip(candidates, similarity, strict=True):
            c.score = (
                float(sim)
                + LEXICAL_WEIGHT * coverage(terms, c.sentence)
                - RANK_PENALTY * (c.hit.rank - 1)
            )
        order = [int(i) for i in np.argsort([-c.score for c in candidates], kind="stable")]
        wanted = expected_type(question) if self.settings.answer_types else None
        if wanted:
            # "How old ...?" is answered by a sentence that states an age, or not at all.
            stating = [i for i in order if wanted.stated_in(candidates[i].sentence)]
            if not stating:
                reason = f"None of the closest passages states {wanted.phrase}."
                return self._abstain(question, hits, candidates[order[0]].score, reason)
            for i in stating:  # already in score order, and all lifted alike
                candidates[i].score += TYPE_BONUS
            order = stating + [i for i in order if i not in stating]
        best = candidates[order[0]]
        if best.score < self.settings.abstain_threshold:
            reason = "No sentence of the closest passages matches the question closely enough."
            return self._abstain(question, hits, best.score, reason)
        chosen = [order[0]]
        for i in order[1:]:
            if len(chosen) >= self.settings.max_answer_sentences:
                break
            c = candidates[i]
            if c.score < max(best.score - KEEP_MARGIN, self.settings.abstain_threshold):
                break
            if max(float(vectors[i] @ vectors[j]) for j in chosen) >= MERGE_SIMILARITY:
                continue
            chosen.append(i)
        return self._compose(question, hits, [candidates[i] for i in chosen], best.score)

    def _unnamed_drugs(self, question: str, hits: list[Hit]) -> str:
        """The drugs the question names ("a or b") when no passage it would quote names
        any of them; empty otherwise."""
        drugs = named_drugs(question) if self.settings.answer_types else []
        if not drugs:
            return ""
        evidence = " ".join(h.chunk.text.lower() for h in hits[:ANSWER_PASSAGES])
        return "" if any(drug in evidence for drug in drugs) else " or ".join(drugs)

    def _compose(self, question, hits, chosen: list[Candidate], confidence) -> Answer:
        """Best sentence first, the rest in reading order; one [n] per source passage.

        ``Answer.text`` is exactly ``" ".join(f"{c.sentence} [{c.n}]")`` over the
        citations, so a page can rebuild it with its own markup.
        """
        rest = sorted(chosen[1:], key=lambda c: (c.hit.rank, c.start))
        numbers: dict[int, int] = {}
        citations, parts = [], []
        for c in [chosen[0], *rest]:
            n = numbers.setdefault(c.hit.rank, len(numbers) + 1)
            citations.append(
                Citation(n=n, hit=c.hit, sentence=c.sentence, start=c.start, end=c.end)
            )
            parts.append(f"{c.sentence} [{n}]")
        return Answer(question, " ".join(parts), False, round(confidence, 4), citations, hits)

    def _abstain(self, question: str, hits: list[Hit], confidence: float, reason: str) -> Answer:
        return Answer(question, ABSTAIN_TEXT, True, round(confidence, 4), [], hits, reason)
