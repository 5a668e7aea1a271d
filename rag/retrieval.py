"""Hybrid retrieval: dense (FAISS) and lexical (FTS5 BM25) fused by reciprocal rank fusion."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np

from rag.answer_types import expected_type
from rag.config import Settings
from rag.documents import DocInfo, Hit
from rag.embedding import Embedder
from rag.errors import RagError
from rag.query import QueryExpander
from rag.store import Store

log = logging.getLogger("rag")
MODES = ("hybrid", "dense", "lexical")


@dataclass(frozen=True)
class Filters:
    """Restrict hits to some documents and/or a range of publication years."""

    doc_ids: frozenset[str] | None = None
    year_min: int | None = None
    year_max: int | None = None

    @property
    def active(self) -> bool:
        return bool(self.doc_ids) or self.year_min is not None or self.year_max is not None

    def allows(self, doc: DocInfo) -> bool:
        if self.doc_ids and doc.doc_id not in self.doc_ids:
            return False
        if self.year_min is not None and (doc.year is None or doc.year < self.year_min):
            return False
        return self.year_max is None or (doc.year is not None and doc.year <= self.year_max)


def rrf(rankings: list[tuple[list[int], float]], k: int) -> dict[int, float]:
    """Weighted reciprocal rank fusion of ranked id lists."""
    scores: dict[int, float] = {}
    for ids, weight in rankings:
        for rank, item in enumerate(ids, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return scores


def score_fusion(
    dense: list[tuple[int, float]], lexical: list[tuple[int, float]], wd: float, wl: float
) -> dict[int, float]:
    """Weighted sum of max-normalised scores; a side that missed a passage gives it its floor."""
    fused: dict[int, float] = {}
    for ranking, weight in ((dense, wd), (lexical, wl)):
        if not ranking or not weight:
            continue
        top = max(sc for _, sc in ranking) or 1.0
        floor = min(sc for _, sc in ranking) / top
        scores = {i: sc / top for i, sc in ranking}
        for i in {i for i, _ in dense} | {i for i, _ in lexical}:
            fused[i] = fused.get(i, 0.0) + weight * scores.get(i, floor)
    return fused


class Retriever:
    """One retrieval path for the CLI, the app and the evaluator."""

    def __init__(self, store: Store, embedder: Embedder, settings: Settings):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.expander = QueryExpander(store)

    def search(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        mode: str | None = None,
    ) -> list[Hit]:
        """The best ``k`` passages, all read from one index generation: a writer may
        commit while the search runs (``Store.reading``)."""
        with self.store.reading():
            return self._search(question, k, filters, mode)

    def _search(
        self,
        question: str,
        k: int | None,
        filters: Filters | None,
        mode: str | None,
    ) -> list[Hit]:
        question = (question or "").strip()
        if not question:
            raise RagError("The question is empty: type a question.")
        s = self.settings
        k = k or s.k
        mode = mode or s.mode
        if mode not in MODES:
            raise RagError(f"Unknown retrieval mode {mode!r}: use one of {', '.join(MODES)}.")
        filters = filters or Filters()
        # Expansions feed the lexical side only: the dense model reads "SSc" well enough,
        # and long forms appended to its input shift the question's meaning.
        words = self.expander.expand(question) if s.expand_abbreviations else question
        depth = max(s.candidates, k) * (5 if filters.active else 1)
        t0 = time.perf_counter()
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        sentence: list[tuple[int, float]] = []
        if mode in ("hybrid", "dense"):
            vector = self.embedder.encode_query(question)
            t1 = time.perf_counter()
            dense = self.store.dense_search(vector, depth)
            if s.sentence_search_weight:
                sentence = self.store.sentence_search(vector, depth, s.sentence_decay)
            if s.dense_prf and dense:
                # Rocchio: move the question towards its best passages and search again.
                feedback = self.store.vectors([i for i, _ in dense[: s.dense_prf]]).mean(axis=0)
                vector = vector + s.prf_beta * feedback
                dense = self.store.dense_search(vector / np.linalg.norm(vector), depth)
        else:
            t1 = t0
        t2 = time.perf_counter()
        if mode in ("hybrid", "lexical"):
            lexical = self.store.lexical_search(words, depth, s.title_weight)
        t3 = time.perf_counter()
        lexical_weight = s.lexical_weight
        if mode == "hybrid" and s.adaptive_lexical:
            # Lexical evidence is only as good as the words it can match: a paraphrased
            # question whose words the corpus never uses should lean on the dense side.
            lexical_weight *= self.store.known_share(words)
        if s.fusion == "score":
            fused = score_fusion(dense, lexical, s.dense_weight, lexical_weight)
        else:
            fused = rrf(
                [
                    ([i for i, _ in dense], s.dense_weight),
                    ([i for i, _ in lexical], lexical_weight),
                    ([i for i, _ in sentence], s.sentence_search_weight),
                ],
                s.rrf_k,
            )
        order = sorted(fused, key=lambda i: -fused[i])
        if mode != "lexical" and s.rerank_depth and s.sentence_weight:
            order = self._rerank_by_sentence(question, order, fused)
        t4 = time.perf_counter()
        hits = self._hits(order, fused, dense, lexical, k, filters)
        if s.answer_type_depth:
            hits = stated_type_first(question, hits, s.answer_type_depth)
        log.debug(
            "search %.1f ms (encode %.1f, faiss %.1f, fts5 %.1f, rerank %.1f, fetch %.1f)",
            (time.perf_counter() - t0) * 1000,
            (t1 - t0) * 1000,
            (t2 - t1) * 1000,
            (t3 - t2) * 1000,
            (t4 - t3) * 1000,
            (time.perf_counter() - t4) * 1000,
        )
        return hits

    def _rerank_by_sentence(self, question: str, order: list[int], fused: dict[int, float]):
        """Fuse in a third ranking of the top candidates: their best sentence's similarity.

        A passage that holds one sentence close to the question beats one that is
        vaguely about the topic throughout; sentence vectors are stored at index time.
        """
        top = order[: self.settings.rerank_depth]
        sentences = self.store.sentences(top)
        if not sentences:
            return order
        q = self.embedder.encode_query(question)
        best = {i: max(float(v @ q) for _, _, v in rows) for i, rows in sentences.items()}
        ranked = sorted(best, key=lambda i: -best[i])
        for rank, chunk_id in enumerate(ranked, start=1):
            fused[chunk_id] += self.settings.sentence_weight / (self.settings.rrf_k + rank)
        return sorted(fused, key=lambda i: -fused[i])

    def _hits(self, order, fused, dense, lexical, k, filters) -> list[Hit]:
        diversify = self.settings.mmr_lambda < 1.0
        want = max(k, self.settings.mmr_pool) if diversify else k
        hits, vectors = self._collect(order, fused, dense, lexical, want, filters)
        if diversify and len(hits) > 1:
            return mmr(hits, vectors, k, self.settings.mmr_lambda)
        return hits[:k]

    def _collect(self, order, fused, dense, lexical, k, filters):
        """The first ``k`` passages in fused order that pass the filters and are not
        near-duplicates of one already taken, with their vectors."""
        s_dup = self.settings.dedup_threshold
        dense_rank = {i: (r, sc) for r, (i, sc) in enumerate(dense, start=1)}
        lexical_rank = {i: (r, sc) for r, (i, sc) in enumerate(lexical, start=1)}
        hits: list[Hit] = []
        kept = np.zeros((k, self.embedder.dimension), dtype=np.float32)
        batch = max(4 * k, 20)
        for start in range(0, len(order), batch):
            ids = order[start : start + batch]
            rows = self.store.chunks(ids)
            ids = [i for i in ids if i in rows]  # others were removed by a writer meanwhile
            vectors = self.store.vectors(ids) if ids else kept[:0]
            for chunk_id, vector in zip(ids, vectors, strict=True):
                chunk, doc = rows[chunk_id]
                if not filters.allows(doc):
                    continue
                if hits and float(np.max(kept[: len(hits)] @ vector)) >= s_dup:
                    continue  # a near-duplicate of a passage already shown
                kept[len(hits)] = vector
                d = dense_rank.get(chunk_id, (None, None))
                lx = lexical_rank.get(chunk_id, (None, None))
                hits.append(
                    Hit(
                        chunk=chunk,
                        score=fused[chunk_id],
                        rank=len(hits) + 1,
                        dense_rank=d[0],
                        dense_score=d[1],
                        lexical_rank=lx[0],
                        lexical_score=lx[1],
                        doc=doc,
                    )
                )
                if len(hits) == k:
                    return hits, kept
        return hits, kept[: len(hits)]


def stated_type_first(question: str, hits: list[Hit], depth: int) -> list[Hit]:
    """Among the ``depth`` best passages, those that state the kind of fact the question
    asks for ("How old ...?" wants "57-year-old") come first, each group in fused order.

    Only passages already among the best are moved, so a passage that merely holds a
    number never displaces the evidence, and the answerer sees the same passages.
    """
    wanted = expected_type(question)
    if not wanted:
        return hits
    stating_first = sorted(hits[:depth], key=lambda h: not wanted.stated_in(h.chunk.text))
    moved = stating_first + hits[depth:]
    return [h if h.rank == r else replace(h, rank=r) for r, h in enumerate(moved, start=1)]


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
