"""Hybrid retrieval: the question becomes a Query once, then runs through the stages
(``rag/stages/``: dense and lexical retrievers, fusion, collection, orderings)."""

from __future__ import annotations

import logging
import time

from rag.answer_types import expected_type, named_analytes, named_drugs, named_procedures
from rag.config import MODES, RetrievalSettings
from rag.documents import Hit
from rag.embedding import Embedder
from rag.errors import RagError
from rag.query import Filters, Query, QueryExpander
from rag.stages import Candidates, Resources, Stage, stages_for
from rag.store import Store

log = logging.getLogger("rag")

__all__ = ["Filters", "MODES", "Retriever"]


class Retriever:
    """One retrieval path for the CLI, the app and the evaluator."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        settings: RetrievalSettings,
        reader=None,
        stages: list[Stage] | None = None,
    ):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.expander = QueryExpander(store)
        resources = Resources(store, embedder, reader)
        self.stages = stages if stages is not None else stages_for(settings, resources)

    def query(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        mode: str | None = None,
    ) -> Query:
        """The question checked and worked out once: wording, vector, what it asks for."""
        text = (question or "").strip()
        if not text:
            raise RagError("The question is empty: type a question.")
        mode = mode or self.settings.mode
        if mode not in MODES:
            raise RagError(f"Unknown retrieval mode {mode!r}: use one of {', '.join(MODES)}.")
        expand = self.settings.expand_abbreviations
        return Query(
            text=text,
            words=self.expander.expand(text) if expand else text,
            vector=self.embedder.encode_query(text) if mode != "lexical" else None,
            wanted=expected_type(text),
            drugs=tuple(named_drugs(text)),
            mode=mode,
            k=k or self.settings.k,
            filters=filters or Filters(),
            analytes=tuple(named_analytes(text)),
            procedures=tuple(named_procedures(text)),
        )

    def search(self, *request, **options) -> list[Hit]:
        """The best passages for a question (the arguments of :meth:`query`)."""
        return self.run(self.query(*request, **options))

    def run(self, query: Query) -> list[Hit]:
        """The query through every stage, all reading one index generation: a writer may
        commit while it runs (``Store.reading``)."""
        depth = max(self.settings.candidates, query.k) * (5 if query.filters.active else 1)
        pool = max((getattr(stage, "pool", 0) for stage in self.stages), default=0)
        candidates = Candidates(depth=depth, pool=pool)
        timings = []
        with self.store.reading():
            for stage in self.stages:
                started = time.perf_counter()
                candidates = stage(query, candidates)
                timings.append(
                    f"{type(stage).__name__} {(time.perf_counter() - started) * 1000:.1f}"
                )
        log.debug("search stages (ms): %s", ", ".join(timings))
        return candidates.hits
