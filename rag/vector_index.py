"""FAISS vector indexes keyed by chunk id: flat, HNSW or IVF-PQ, chosen by size or forced.

Why three: flat is exact and needs no training, but its query time grows with the
corpus (p50 69 ms per question at 1M x 384 on this 2-core machine); HNSW answers in
under 2 ms at 1M with Recall@10 0.97 for 1.18x the memory of flat; IVF-PQ keeps only
48-byte codes (1/25 of flat) but its recall is poor on these vectors (0.48 at 1M), so
it is never chosen automatically. ``choose_kind`` picks by size (figures:
``python -m rag.scale``, eval/bench/RESULTS.md).

Ids are chunk ids everywhere, and deletions work for each type:

- flat: ``IndexIDMap2(IndexFlatIP)``; ``remove_ids`` compacts the storage.
- HNSW: ``IndexIDMap2(IndexHNSWFlat)``. HNSW cannot delete nodes, so a removed entry
  is tombstoned: its ``id_map`` slot becomes -1 (saved in the FAISS file itself, so
  there is no side file to keep in step) and searches skip tombstones inside the graph
  walk with an ``IDSelector`` (still k results, no oversampling guesswork). When
  tombstones pass ``COMPACT_SHARE`` of the graph, ``prepare`` rebuilds it without them.
- IVF-PQ: ``IndexIVFPQ`` storing chunk ids natively (an ``IndexIDMap`` around IVF would
  desynchronise on removal); ``remove_ids`` is supported.

All vectors are L2-normalised, so inner product is cosine similarity for every type.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import RagError

KINDS = ("flat", "hnsw", "ivfpq")
AUTO_HNSW_FROM = 200_000  # rag.scale: flat p50 5 ms at 100k, 69 ms at 1M; HNSW 0.4-1.6 ms
COMPACT_SHARE = 0.2  # HNSW tombstones above this share of the graph trigger a rebuild
IVF_MIN_TRAIN = 1_000  # fewer vectors cannot train 8-bit PQ codebooks usefully
# Below this many queries a search runs on one thread: waking OpenMP workers on a busy
# 2-core machine cost 5-7x (flat, 100k: p50 48 ms with 2 threads, 7-9 ms with 1).
SINGLE_THREAD_BELOW = 16


@dataclass(frozen=True)
class IndexParams:
    """Build and search knobs; defaults measured at 1M x 384 (see eval/bench/RESULTS.md)."""

    hnsw_m: int = 32
    hnsw_ef_construction: int = 64
    hnsw_ef_search: int = 128  # 1M: Recall@10 0.972 at p50 1.6 ms (64: 0.938, below target)
    ivf_lists: int = 0  # 0: about 4 * sqrt(n), at most n / 39 (k-means wants 39 points a list)
    pq_m: int = 48  # sub-quantisers = bytes per vector (must divide the dimension)
    ivf_nprobe: int = 32
    train_sample: int = 100_000  # vectors used to train IVF-PQ (k-means cost grows with it)


def choose_kind(size: int, requested: str = "auto") -> str:
    """The index type for a corpus of ``size`` vectors: the forced one, or by size."""
    if requested in KINDS:
        return requested
    if requested != "auto":
        raise RagError(f"Unknown index type {requested!r}: use auto or one of {', '.join(KINDS)}.")
    return "hnsw" if size >= AUTO_HNSW_FROM else "flat"


def ivf_lists_for(size: int, params: IndexParams) -> int:
    if params.ivf_lists:
        return params.ivf_lists
    return max(1, min(int(4 * math.sqrt(max(size, 1))), size // 39))


class VectorIndex:
    """One FAISS index plus the bookkeeping that makes ids and deletions uniform."""

    def __init__(self, index, kind: str):
        import faiss

        self.index = index
        self.kind = kind
        self.train_sample = IndexParams.train_sample
        # Selects every id except -1 (an HNSW tombstone); kept alive with the index.
        self._live = faiss.IDSelectorNot(faiss.IDSelectorRange(-1, 0))

    # -- creating, reading, writing ------------------------------------------------------
    @classmethod
    def new(
        cls,
        dimension: int,
        kind: str = "flat",
        expected_size: int = 0,
        params: IndexParams | None = None,
    ) -> VectorIndex:
        import faiss

        p = params or IndexParams()
        kind = choose_kind(expected_size, kind)
        if kind == "flat":
            return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)), kind)
        if kind == "hnsw":
            inner = faiss.IndexHNSWFlat(dimension, p.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = p.hnsw_ef_construction
            inner.hnsw.efSearch = p.hnsw_ef_search
            return cls(faiss.IndexIDMap2(inner), kind)
        if dimension % p.pq_m:
            raise RagError(f"IVF-PQ: pq_m={p.pq_m} must divide the dimension {dimension}.")
        lists = ivf_lists_for(expected_size, p)
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFPQ(quantizer, dimension, lists, p.pq_m, 8, faiss.METRIC_INNER_PRODUCT)
        index.nprobe = min(p.ivf_nprobe, lists)
        made = cls(index, kind)  # faiss's Python layer keeps the quantizer alive with it
        made.train_sample = p.train_sample
        return made

    @classmethod
    def read(cls, path: Path) -> VectorIndex:
        import faiss

        return cls.wrap(faiss.read_index(str(path)))

    @classmethod
    def wrap(cls, index) -> VectorIndex:
        """Recognise the type of an index read from disk (older files are plain flat)."""
        import faiss

        inner = _inner(index)
        if isinstance(inner, faiss.IndexHNSW):
            return cls(index, "hnsw")
        if isinstance(inner, faiss.IndexIVF):
            return cls(index, "ivfpq")
        if isinstance(inner, faiss.IndexFlat):
            return cls(index, "flat")
        raise RagError(f"Unsupported FAISS index type {type(inner).__name__}: rebuild the index.")

    def write(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    # -- sizes -----------------------------------------------------------------------------
    @property
    def stored(self) -> int:
        """Entries in the FAISS structure, tombstones included."""
        return int(self.index.ntotal)

    @property
    def tombstones(self) -> int:
        if self.kind != "hnsw" or self.stored == 0:
            return 0
        return int((self._id_map() == -1).sum())

    def __len__(self) -> int:
        return self.stored - self.tombstones

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    # -- changing --------------------------------------------------------------------------
    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add vectors under their chunk ids; an untrained IVF-PQ trains on them first."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return
        if not self.index.is_trained:
            if len(vectors) < IVF_MIN_TRAIN:
                raise RagError(
                    f"IVF-PQ needs at least {IVF_MIN_TRAIN} vectors to train, got "
                    f"{len(vectors)}: use the flat or HNSW index type for this corpus."
                )
            rng = np.random.default_rng(0)
            pick = rng.choice(len(vectors), min(self.train_sample, len(vectors)), replace=False)
            self.index.train(vectors[np.sort(pick)])
        self.index.add_with_ids(vectors, ids)

    def remove(self, ids) -> int:
        """Delete chunk ids; returns how many were present."""
        import faiss

        ids = np.unique(np.asarray(list(ids), dtype=np.int64))
        if len(ids) == 0 or self.stored == 0:
            return 0
        if self.kind != "hnsw":
            return int(self.index.remove_ids(faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids))))
        id_map = self._id_map()
        hit = np.isin(id_map, ids) & (id_map != -1)
        if hit.any():
            id_map[hit] = -1
            self.index.id_map.clear()
            faiss.copy_array_to_vector(id_map, self.index.id_map)
            self.index.construct_rev_map()
        return int(hit.sum())

    # -- reading ---------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and chunk ids, best first; -1 pads a row when fewer than k exist."""
        import faiss

        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        k = min(k, len(self))
        if k <= 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        with omp_threads(1 if len(queries) < SINGLE_THREAD_BELOW else 0):
            if self.kind == "hnsw" and self.tombstones:
                params = faiss.SearchParametersHNSW()
                params.efSearch = max(_inner(self.index).hnsw.efSearch, k)
                params.sel = self._live
                return self.index.search(queries, k, params=params)
            return self.index.search(queries, k)

    def ids(self) -> np.ndarray:
        """Every live chunk id (for consistency checks and rebuilds)."""
        if self.kind != "ivfpq":
            id_map = self._id_map()
            return id_map[id_map != -1]
        import faiss

        invlists = self.index.invlists
        parts = []
        for lst in range(self.index.nlist):
            n = invlists.list_size(lst)
            if n:
                parts.append(faiss.rev_swig_ptr(invlists.get_ids(lst), n).copy())
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Live (ids, exact vectors): what a rebuild as another type starts from."""
        if self.kind == "ivfpq":
            raise RagError(
                "An IVF-PQ index keeps only compressed codes: re-embed with "
                "`rag index --rebuild` to change its type."
            )
        id_map = self._id_map()
        keep = id_map != -1
        if not len(id_map):
            return id_map, np.zeros((0, self.dimension), np.float32)
        all_vectors = _inner(self.index).reconstruct_n(0, self.stored)
        return id_map[keep], all_vectors[keep]

    def reconstruct(self, ids) -> np.ndarray:
        """Stored vectors of some chunk ids (IVF-PQ: decoded from codes, approximate)."""
        import faiss

        if self.kind == "ivfpq" and self.index.direct_map.type == faiss.DirectMap.NoMap:
            self.index.set_direct_map_type(faiss.DirectMap.Hashtable)
        return np.stack([self.index.reconstruct(int(i)) for i in ids])

    @property
    def effort(self) -> int:
        """efSearch (HNSW) or nprobe (IVF); 0 for flat."""
        inner = _inner(self.index)
        if self.kind == "hnsw":
            return int(inner.hnsw.efSearch)
        return int(inner.nprobe) if self.kind == "ivfpq" else 0

    @effort.setter
    def effort(self, value: int) -> None:
        inner = _inner(self.index)
        if self.kind == "hnsw":
            inner.hnsw.efSearch = int(value)
        elif self.kind == "ivfpq":
            inner.nprobe = int(value)

    def _id_map(self) -> np.ndarray:
        import faiss

        return faiss.vector_to_array(self.index.id_map)


@contextlib.contextmanager
def omp_threads(n: int) -> Iterator[None]:
    """FAISS's OpenMP thread count for this thread only (libgomp keeps it per thread)."""
    if n <= 0:
        yield
        return
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _inner(index):
    import faiss

    if isinstance(index, faiss.IndexIDMap | faiss.IndexIDMap2):
        return faiss.downcast_index(index.index)
    return index


def prepare(
    current: VectorIndex | None,
    dimension: int,
    size_after: int,
    requested: str = "auto",
    params: IndexParams | None = None,
) -> VectorIndex:
    """The index a writer should add to, for a corpus about to hold ``size_after`` vectors.

    Keeps ``current`` when it is still the right type; otherwise (the corpus crossed
    the size threshold, the setting changed, or HNSW tombstones piled up) rebuilds it
    from its exact vectors. An IVF-PQ index whose type must change cannot be rebuilt
    from its codes: that asks for ``rag index --rebuild``.
    """
    kind = choose_kind(size_after, requested)
    if current is None or current.stored == 0:
        return VectorIndex.new(dimension, kind, size_after, params)
    compact = current.kind == "hnsw" and current.tombstones > COMPACT_SHARE * current.stored
    if current.kind == kind and not compact:
        return current
    if current.kind == "ivfpq" and requested == "auto":
        return current  # forced once: keep it until the user rebuilds
    ids, vectors = current.vectors()
    rebuilt = VectorIndex.new(dimension, kind, max(size_after, len(ids)), params)
    rebuilt.add(vectors, ids)
    return rebuilt
