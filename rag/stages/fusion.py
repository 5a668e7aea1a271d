"""Fusion of the retrievers' rankings, and the optional best-sentence re-ranking."""

from __future__ import annotations

from dataclasses import dataclass

from rag.query import Query
from rag.stages import Candidates

ORDER = ("dense", "lexical", "sentence")  # summation order, so scores repeat bit for bit


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


@dataclass
class RRF:
    k: int

    def __call__(self, query: Query, c: Candidates) -> Candidates:
        names = [n for n in ORDER if n in c.rankings] + [n for n in c.rankings if n not in ORDER]
        c.fused = rrf(
            [([i for i, _ in c.rankings[n]], c.weights.get(n, 1.0)) for n in names], self.k
        )
        c.order = sorted(c.fused, key=lambda i: -c.fused[i])
        return c


@dataclass
class ScoreFusion:
    """Max-normalised dense and lexical scores, weighted and summed."""

    def __call__(self, query: Query, c: Candidates) -> Candidates:
        c.fused = score_fusion(
            c.ranking("dense"),
            c.ranking("lexical"),
            c.weights.get("dense", 0.0),
            c.weights.get("lexical", 0.0),
        )
        c.order = sorted(c.fused, key=lambda i: -c.fused[i])
        return c


@dataclass
class SentenceRerank:
    """Fuse in a ranking of the top candidates by their best stored sentence's similarity:
    a passage holding one sentence close to the question beats one vaguely on topic."""

    store: object
    depth: int
    weight: float
    rrf_k: int

    def __call__(self, query: Query, c: Candidates) -> Candidates:
        if query.vector is None:
            return c
        sentences = self.store.sentences(c.order[: self.depth])
        if not sentences:
            return c
        best = {
            i: max(float(v @ query.vector) for _, _, v in rows) for i, rows in sentences.items()
        }
        for rank, chunk_id in enumerate(sorted(best, key=lambda i: -best[i]), start=1):
            c.fused[chunk_id] += self.weight / (self.rrf_k + rank)
        c.order = sorted(c.fused, key=lambda i: -c.fused[i])
        return c


def fusion(s, r) -> RRF | ScoreFusion:
    return ScoreFusion() if s.fusion == "score" else RRF(s.rrf_k)


def sentence_rerank(s, r) -> SentenceRerank | None:
    if not (s.rerank_depth and s.sentence_weight):
        return None
    return SentenceRerank(r.store, s.rerank_depth, s.sentence_weight, s.rrf_k)
