"""Past one machine (issue 17; the plan is docs/SCALE-OUT.md): the index's passages in a
Qdrant collection, each point a chunk with its dense vector and a sparse BM25 vector, the
two fused by reciprocal rank fusion inside the engine.

Generations map onto the engine as they map onto FAISS files: every point carries the
generation that added it (``added``) and, once a later generation drops it, the one that
removed it (``removed``). A writer stages generation G+1 in the engine first (new points,
removal marks), then commits the SQLite catalog, which stays the one commit point; a
reader filters by the generation its catalog snapshot names, so staged points are
invisible until that commit and a crashed writer's points are never seen. The next writer
calls :meth:`QdrantMirror.recover` with the committed generation (as it removes orphan
FAISS files), and :meth:`QdrantMirror.collect` drops points no reader can see any more.

Tested (tests/test_scale_out.py) with qdrant-client's local mode, which runs the same API
in process; a Qdrant server or cluster takes ``QdrantClient(url=...)`` instead.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from rag.store import BM25_B, BM25_K1, Store
from rag.terms import index_tokens, token_offsets

COLLECTION = "caseqa_passages"
DENSE, SPARSE = "dense", "bm25"


def token_id(token: str) -> int:
    """A stable sparse dimension for an index token (CRC-32: no vocabulary to keep in sync)."""
    return zlib.crc32(token.encode())


@dataclass
class Passage:
    chunk_id: int
    doc_id: str
    text: str
    title: str
    vector: np.ndarray


def sparse_vectors(
    passages: list[Passage], title_weight: float, avgdl: float
) -> list[tuple[list[int], list[float]]]:
    """Each passage's BM25 term weights without the IDF (the engine applies it from its
    own counts: Qdrant's IDF modifier), tokenized as the FTS5 index does."""
    out = []
    for offsets in token_offsets([(p.text, p.title) for p in passages], None):
        freq: Counter[str] = Counter()
        length = 0
        for (col, token), where in offsets.items():
            length += len(where)
            freq[token] += len(where) * (1.0 if col == 0 else title_weight)
        norm = BM25_K1 * (1 - BM25_B + BM25_B * length / avgdl)
        weights: dict[int, float] = {}
        for token, f in freq.items():
            if f:
                key = token_id(token)
                weights[key] = weights.get(key, 0.0) + f * (BM25_K1 + 1) / (f + norm)
        out.append((list(weights), list(weights.values())))
    return out


class QdrantMirror:
    """A store's passages in one Qdrant collection, generation-stamped."""

    def __init__(self, client, collection: str = COLLECTION, title_weight: float = 0.5):
        self.client = client
        self.collection = collection
        self.title_weight = title_weight

    def create(self, dimension: int) -> None:
        from qdrant_client import models

        if self.client.collection_exists(self.collection):
            return
        self.client.create_collection(
            self.collection,
            vectors_config={
                DENSE: models.VectorParams(size=dimension, distance=models.Distance.DOT)
            },
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )

    # -- the writer's side --------------------------------------------------------------
    def stage(
        self, generation: int, added: list[Passage], removed: Iterable[int], avgdl: float
    ) -> None:
        """Write generation ``generation`` ahead of the catalog commit: new points stamped
        with it, and removal marks. Readers of earlier generations see none of it."""
        from qdrant_client import models

        sparse = sparse_vectors(added, self.title_weight, avgdl)
        points = [
            models.PointStruct(
                id=p.chunk_id,
                vector={
                    DENSE: p.vector.astype(float).tolist(),
                    SPARSE: models.SparseVector(indices=idx, values=val),
                },
                payload={"doc_id": p.doc_id, "added": generation},
            )
            for p, (idx, val) in zip(added, sparse, strict=True)
        ]
        for start in range(0, len(points), 256):
            self.client.upsert(self.collection, points=points[start : start + 256], wait=True)
        removed = list(removed)
        if removed:
            self.client.set_payload(
                self.collection, payload={"removed": generation}, points=removed, wait=True
            )

    def recover(self, committed: int) -> None:
        """Undo what a writer staged past the committed generation (it died before its
        catalog commit): its points go, its removal marks are cleared."""
        from qdrant_client import models

        self.client.delete(
            self.collection,
            points_selector=models.FilterSelector(
                filter=models.Filter(
                    must=[models.FieldCondition(key="added", range=models.Range(gt=committed))]
                )
            ),
            wait=True,
        )
        marked = models.Filter(
            must=[models.FieldCondition(key="removed", range=models.Range(gt=committed))]
        )
        self.client.delete_payload(
            self.collection, keys=["removed"], points=models.FilterSelector(filter=marked)
        )

    def collect(self, oldest_reader: int) -> None:
        """Drop points removed at or before the oldest generation a reader still holds."""
        from qdrant_client import models

        self.client.delete(
            self.collection,
            points_selector=models.FilterSelector(
                filter=models.Filter(
                    must=[
                        models.FieldCondition(key="removed", range=models.Range(lte=oldest_reader))
                    ]
                )
            ),
            wait=True,
        )

    # -- the reader's side --------------------------------------------------------------
    def visible(self, generation: int):
        """Points a reader of ``generation`` sees: added by then, not removed by then."""
        from qdrant_client import models

        return models.Filter(
            must=[models.FieldCondition(key="added", range=models.Range(lte=generation))],
            must_not=[models.FieldCondition(key="removed", range=models.Range(lte=generation))],
        )

    def search(
        self, vector: np.ndarray, terms: list[str], generation: int, k: int, depth: int = 100
    ) -> list[tuple[int, float]]:
        """Dense and sparse BM25 search fused by RRF in the engine, at one generation."""
        from qdrant_client import models

        seen = self.visible(generation)
        prefetch = [
            models.Prefetch(
                query=vector.astype(float).tolist(), using=DENSE, limit=depth, filter=seen
            )
        ]
        tokens = sorted({token_id(t) for term in terms for t in index_tokens(term)})
        if tokens:
            prefetch.append(
                models.Prefetch(
                    query=models.SparseVector(indices=tokens, values=[1.0] * len(tokens)),
                    using=SPARSE,
                    limit=depth,
                    filter=seen,
                )
            )
        result = self.client.query_points(
            self.collection,
            prefetch=prefetch,
            query=models.FusionQuery(fusion=models.Fusion.RRF),
            limit=k,
        )
        return [(int(p.id), float(p.score)) for p in result.points]


def store_passages(store: Store, chunk_ids: list[int] | None = None) -> list[Passage]:
    """Passages of one store generation with their stored vectors (all, or these)."""
    with store.reading():
        ids = sorted(chunk_ids if chunk_ids is not None else store.faiss_ids())
        chunks = store.chunks(ids)
        vectors = store.vectors(ids) if ids else np.zeros((0, 0), np.float32)
    return [
        Passage(
            i,
            chunks[i][1].doc_id,
            chunks[i][0].text,
            " ".join(x for x in (chunks[i][1].title, chunks[i][0].section or "") if x),
            v,
        )
        for i, v in zip(ids, vectors, strict=True)
    ]


def average_length(store: Store) -> float:
    rows, totals = store._fts_averages()
    return sum(totals) / max(rows, 1)


def mirror_store(store: Store, mirror: QdrantMirror) -> int:
    """Load a whole store into the engine as its current generation; returns it."""
    generation = store.generation
    mirror.create(store.manifest.dimension)
    mirror.stage(generation, store_passages(store), [], average_length(store))
    return generation
