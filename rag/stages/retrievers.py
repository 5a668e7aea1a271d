"""First-stage retrievers: dense (FAISS), lexical (FTS5 BM25) and, as options, sentence
vectors and dense pseudo-relevance feedback."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.query import Query
from rag.stages import Candidates
from rag.terms import query_terms


@dataclass
class Dense:
    store: object
    weight: float

    def __call__(self, query: Query, c: Candidates) -> Candidates:
        if query.vector is not None:
            c.rankings["dense"] = self.store.dense_search(query.vector, c.depth)
            c.weights["dense"] = self.weight
        return c


@dataclass
class SentenceSearch:
    """Chunks ranked by their closest stored sentence vectors (best + decay x second)."""

    store: object
    weight: float
    decay: float

    def __call__(self, query: Query, c: Candidates) -> Candidates:
        if query.vector is not None:
            c.rankings["sentence"] = self.store.sentence_search(query.vector, c.depth, self.decay)
            c.weights["sentence"] = self.weight
        return c


@dataclass
class DensePRF:
    """Rocchio: move the question towards its best passages and search again."""

    store: object
    passages: int
    beta: float

    def __call__(self, query: Query, c: Candidates) -> Candidates:
        dense = c.ranking("dense")
        if query.vector is None or not dense:
            return c
        feedback = self.store.vectors([i for i, _ in dense[: self.passages]]).mean(axis=0)
        vector = query.vector + self.beta * feedback
        c.rankings["dense"] = self.store.dense_search(vector / np.linalg.norm(vector), c.depth)
        return c


@dataclass
class Lexical:
    """BM25 over the expanded wording; in hybrid mode its weight is scaled by the share of
    question words the corpus knows: a paraphrase whose words the corpus never uses
    should lean on the dense side."""

    store: object
    weight: float
    title_weight: float
    adaptive: bool
    budget: int = 0  # postings; 0: every term
    budget_from: int = 0  # passages in the index from which the budget applies

    def __call__(self, query: Query, c: Candidates) -> Candidates:
        if query.mode not in ("hybrid", "lexical"):
            return c
        terms = query_terms(query.words)
        budget = self.budget if self.store.budget_applies(self.budget, self.budget_from) else 0
        dense = [i for i, _ in c.ranking("dense")] if budget else []
        c.rankings["lexical"] = self.store.lexical_search(
            terms, c.depth, self.title_weight, budget, also=dense
        )
        weight = self.weight
        if query.mode == "hybrid" and self.adaptive:
            weight *= self.store.known_share(terms)
        c.weights["lexical"] = weight
        return c


def dense(s, r) -> Dense:
    return Dense(r.store, s.dense_weight)


def sentence_search(s, r) -> SentenceSearch | None:
    if not s.sentence_search_weight:
        return None
    return SentenceSearch(r.store, s.sentence_search_weight, s.sentence_decay)


def dense_prf(s, r) -> DensePRF | None:
    return DensePRF(r.store, s.dense_prf, s.prf_beta) if s.dense_prf else None


def lexical(s, r) -> Lexical:
    return Lexical(
        r.store,
        s.lexical_weight,
        s.title_weight,
        s.adaptive_lexical,
        s.lexical_budget,
        s.lexical_budget_from,
    )
