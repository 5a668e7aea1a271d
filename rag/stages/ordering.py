"""From fused ids to the passages shown: filters and near-duplicates (collect), then the
optional orderings among them (MMR, the reader) and the answer-type ordering."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from rag.chunking import quotable_sentences
from rag.documents import Hit
from rag.query import Query
from rag.stages import Candidates

RRF_K = 60  # reader re-ranking: the usual reciprocal rank fusion constant


@dataclass
class Collect:
    """The first passages in fused order that pass the filters and are not near-duplicates
    (passage cosine at least ``dedup``) of one already taken, with their vectors."""

    store: object
    dimension: int
    dedup: float

    def __call__(self, query: Query, c: Candidates) -> Candidates:
        want = max(query.k, c.pool)
        dense = {i: (r, sc) for r, (i, sc) in enumerate(c.ranking("dense"), start=1)}
        lexical = {i: (r, sc) for r, (i, sc) in enumerate(c.ranking("lexical"), start=1)}
        hits: list[Hit] = []
        kept = np.zeros((want, self.dimension), dtype=np.float32)
        batch = max(4 * want, 20)
        for start in range(0, len(c.order), batch):
            ids = c.order[start : start + batch]
            rows = self.store.chunks(ids)
            ids = [i for i in ids if i in rows]  # others were removed by a writer meanwhile
            vectors = self.store.vectors(ids) if ids else kept[:0]
            for chunk_id, vector in zip(ids, vectors, strict=True):
                chunk, doc = rows[chunk_id]
                if not query.filters.allows(doc):
                    continue
                if hits and float(np.max(kept[: len(hits)] @ vector)) >= self.dedup:
                    continue  # a near-duplicate of a passage already shown
                kept[len(hits)] = vector
                d, lx = dense.get(chunk_id, (None, None)), lexical.get(chunk_id, (None, None))
                hits.append(
                    Hit(chunk, c.fused[chunk_id], len(hits) + 1, d[0], lx[0], d[1], lx[1], doc)
                )
                if len(hits) == want:
                    break
            if len(hits) == want:
                break
        c.hits, c.vectors = hits[: query.k] if not c.pool else hits, kept[: len(hits)]
        return c


def mmr(hits: list[Hit], vectors: np.ndarray, k: int, lam: float) -> list[Hit]:
    """Maximal marginal relevance: each next passage maximises
    ``lam * relevance - (1 - lam) * (cosine to the closest passage already chosen)``,
    relevance being the fused score min-max scaled over the pool, so that a clinician's
    five passages are not five views of one paragraph."""
    scores = np.array([h.score for h in hits])
    spread = float(scores.max() - scores.min()) or 1.0
    relevance = (scores - scores.min()) / spread
    chosen = [0]
    closest = vectors @ vectors[0]
    left = list(range(1, len(hits)))
    while left and len(chosen) < k:
        gains = lam * relevance[left] - (1 - lam) * closest[left]
        pick = left.pop(int(np.argmax(gains)))
        chosen.append(pick)
        closest = np.maximum(closest, vectors @ vectors[pick])
    return [replace(hits[i], rank=rank) for rank, i in enumerate(chosen, start=1)]


@dataclass
class MMR:
    lam: float
    pool: int  # passages collected to pick the k from

    def __call__(self, query: Query, c: Candidates) -> Candidates:
        if len(c.hits) > 1:
            c.hits = mmr(c.hits, c.vectors, query.k, self.lam)
        else:
            c.hits = c.hits[: query.k]
        return c


def stated_type_first(query: Query, hits: list[Hit], depth: int) -> list[Hit]:
    """Among the ``depth`` best passages, those that state the kind of fact the question
    asks for ("How old ...?" wants "57-year-old") come first, each group in fused order.

    Only passages already among the best are moved, so a passage that merely holds a
    number never displaces the evidence, and the answerer sees the same passages.
    """
    if not query.wanted:
        return hits
    wanted = query.wanted
    stating_first = sorted(hits[:depth], key=lambda h: not wanted.stated_in(h.chunk.text))
    moved = stating_first + hits[depth:]
    return [h if h.rank == r else replace(h, rank=r) for r, h in enumerate(moved, start=1)]


@dataclass
class AnswerTypeOrder:
    depth: int

    def __call__(self, query: Query, c: Candidates) -> Candidates:
        c.hits = stated_type_first(query, c.hits, self.depth)
        return c


@dataclass
class ReaderRerank:
    """Passages re-ordered by reciprocal rank fusion of their rank so far and the rank of
    their best sentence by the answer reader: a passage that holds an answer moves up."""

    reader: object
    weight: float
    pool: int  # passages collected and read

    def __call__(self, query: Query, c: Candidates) -> Candidates:
        best = [self._best(query.text, h.chunk.text) for h in c.hits]
        by_reader = {i: r for r, i in enumerate(np.argsort([-b for b in best], kind="stable"), 1)}
        fused = [
            1 / (RRF_K + h.rank) + self.weight / (RRF_K + by_reader[i])
            for i, h in enumerate(c.hits)
        ]
        order = np.argsort([-f for f in fused], kind="stable")[: query.k]
        c.hits = [replace(c.hits[i], rank=r) for r, i in enumerate(order, start=1)]
        return c

    def _best(self, question: str, text: str) -> float:
        sentences = [text[s.start : s.end] for s in quotable_sentences(text)]
        return float(self.reader.score(question, sentences).max()) if sentences else 0.0


def collect(s, r) -> Collect:
    return Collect(r.store, r.embedder.dimension, s.dedup_threshold)


def diversify(s, r) -> MMR | None:
    return MMR(s.mmr_lambda, s.mmr_pool) if s.mmr_lambda < 1.0 else None


def reader_rerank(s, r) -> ReaderRerank | None:
    if not (s.reader_rerank_depth and r.reader is not None):
        return None
    return ReaderRerank(r.reader, s.reader_weight, s.reader_rerank_depth)


def answer_types(s, r) -> AnswerTypeOrder | None:
    return AnswerTypeOrder(s.answer_type_depth) if s.answer_type_depth else None
