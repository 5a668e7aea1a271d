"""Retrieval as an ordered list of small stages, each ``(Query, Candidates) -> Candidates``.

The default list lives in one place, :func:`load_builtin`; each entry builds its stage
from the settings and the loaded resources, or returns None when the settings leave it
out. A new stage is a new class plus one line there (or one :func:`register` call from
outside); an ablation is another list (other settings), not a flag inside a stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from rag.config import RetrievalSettings
from rag.documents import Hit
from rag.query import Query


@dataclass
class Candidates:
    """What the stages pass along: rankings by retriever, their fusion, then hits."""

    depth: int  # passages each retriever returns
    rankings: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)  # fusion weight per ranking
    fused: dict[int, float] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)  # chunk ids, best first
    hits: list[Hit] = field(default_factory=list)
    vectors: np.ndarray | None = None  # the hits' passage vectors, row per hit
    pool: int = 0  # how many hits to collect before a stage that picks among them

    def ranking(self, name: str) -> list[tuple[int, float]]:
        return self.rankings.get(name, [])


class Stage(Protocol):
    def __call__(self, query: Query, candidates: Candidates) -> Candidates: ...


@dataclass(frozen=True)
class Resources:
    """What stages read: the opened index, the embedding model, the reader if loaded."""

    store: object
    embedder: object
    reader: object | None = None


Factory = Callable[[RetrievalSettings, Resources], Stage | None]
REGISTRY: dict[str, Factory] = {}


def load_builtin() -> None:
    """The default list, in order: retrievers, fusion, re-rankers, collection, orderings."""
    if REGISTRY:
        return
    from rag.stages import fusion, ordering, retrievers

    REGISTRY.update(
        dense=retrievers.dense,
        sentence_search=retrievers.sentence_search,
        dense_prf=retrievers.dense_prf,
        lexical=retrievers.lexical,
        fusion=fusion.fusion,
        sentence_rerank=fusion.sentence_rerank,
        collect=ordering.collect,
        mmr=ordering.diversify,
        reader_rerank=ordering.reader_rerank,
        answer_types=ordering.answer_types,
    )


def register(name: str, factory: Factory, before: str | None = None) -> None:
    """Add a stage to the default list, at the end or before another one."""
    load_builtin()
    entries = [(n, f) for n, f in REGISTRY.items() if n != name]
    at = next((i for i, (n, _) in enumerate(entries) if n == before), len(entries))
    entries.insert(at, (name, factory))
    REGISTRY.clear()
    REGISTRY.update(entries)


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)


def stages_for(settings: RetrievalSettings, resources: Resources) -> list[Stage]:
    """The stages these settings ask for, in registry order; a factory returns None for a
    stage the settings leave out."""
    load_builtin()
    built = (factory(settings, resources) for factory in REGISTRY.values())
    return [stage for stage in built if stage is not None]
