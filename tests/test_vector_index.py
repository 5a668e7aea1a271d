"""Vector index types: ids map to chunk ids, deletions hold for each type, type choice."""

from __future__ import annotations

import numpy as np
import pytest

from rag.errors import RagError
from rag.vector_index import (
    AUTO_HNSW_FROM,
    COMPACT_SHARE,
    IndexParams,
    VectorIndex,
    choose_kind,
    prepare,
)

DIM = 32
PARAMS = IndexParams(pq_m=8, ivf_lists=16, ivf_nprobe=16, hnsw_ef_search=64)


def clustered(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 40 centres: neighbours exist, as with real passages."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, DIM))
    x = centres[rng.integers(0, 40, n)] + 0.35 * rng.normal(size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def chunk_ids(n: int) -> np.ndarray:
    """Sparse, large ids like a catalog's after many syncs."""
    return (100_000 + 7 * np.arange(n)).astype(np.int64)


def built(kind: str, n: int = 3000) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    vectors, ids = clustered(n), chunk_ids(n)
    index = VectorIndex.new(DIM, kind, n, PARAMS)
    index.add(vectors, ids)
    return index, vectors, ids


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_ids_are_chunk_ids_and_a_vector_finds_itself(kind):
    index, vectors, ids = built(kind)
    assert index.kind == kind and len(index) == len(ids)
    assert set(index.ids().tolist()) == set(ids.tolist())
    scores, found = index.search(vectors[:50], 10)
    assert set(found.ravel().tolist()) <= set(ids.tolist())
    hits = [ids[i] in found[i] for i in range(50)]
    again = index.reconstruct(ids[:5].tolist())
    cosine = (again * vectors[:5]).sum(axis=1) / np.linalg.norm(again, axis=1)
    assert cosine.min() > (0.999 if kind != "ivfpq" else 0.8)
    assert all(hits) if kind != "ivfpq" else np.mean(hits) >= 0.9
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_removed_ids_never_come_back_even_after_reload(kind, tmp_path):
    index, vectors, ids = built(kind)
    gone = ids[::3]
    assert index.remove(gone) == len(gone)
    assert index.remove(gone) == 0  # already removed
    assert len(index) == len(ids) - len(gone)
    path = tmp_path / "v.faiss"
    index.write(path)
    reloaded = VectorIndex.read(path)
    assert reloaded.kind == kind and len(reloaded) == len(index)
    for idx in (index, reloaded):
        _, found = idx.search(vectors[::3][:200], 10)  # the removed vectors themselves
        assert not set(found.ravel().tolist()) & set(gone.tolist())
        assert (found >= 0).all()  # still k results per question
        assert set(idx.ids().tolist()) == set(ids.tolist()) - set(gone.tolist())


def test_hnsw_recall_against_flat():
    hnsw, vectors, ids = built("hnsw")
    flat, _, _ = built("flat")
    queries = clustered(200, seed=1)
    _, exact = flat.search(queries, 10)

    def recall() -> float:
        _, approx = hnsw.search(queries, 10)
        return np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])

    hnsw.effort = 16
    low = recall()
    hnsw.effort = 256  # a wider beam is the knob that buys recall
    assert hnsw.effort == 256
    assert recall() >= 0.97 and recall() > low


def test_choose_kind_by_size_or_forced():
    assert choose_kind(10) == "flat"
    assert choose_kind(AUTO_HNSW_FROM) == "hnsw"
    assert choose_kind(10, "ivfpq") == "ivfpq"
    assert choose_kind(10**7, "flat") == "flat"
    with pytest.raises(RagError, match="Unknown index type"):
        choose_kind(10, "annoy")


def test_ivfpq_refuses_to_train_on_too_few_vectors():
    index = VectorIndex.new(DIM, "ivfpq", 100, PARAMS)
    with pytest.raises(RagError, match="at least"):
        index.add(clustered(100), chunk_ids(100))


def test_prepare_converts_a_growing_flat_index_to_hnsw_keeping_ids_and_vectors():
    flat, vectors, ids = built("flat", 500)
    flat.remove(ids[:10])
    grown = prepare(flat, DIM, AUTO_HNSW_FROM + 1, "auto", PARAMS)
    assert grown.kind == "hnsw"
    assert set(grown.ids().tolist()) == set(ids[10:].tolist())
    kept_ids, kept = grown.vectors()
    order = np.argsort(kept_ids)
    np.testing.assert_allclose(kept[order], vectors[10:], atol=1e-6)
    assert prepare(grown, DIM, AUTO_HNSW_FROM + 2, "auto", PARAMS) is grown  # no rework


def test_prepare_compacts_hnsw_tombstones():
    hnsw, _, ids = built("hnsw", 1000)
    hnsw.remove(ids[: int(len(ids) * COMPACT_SHARE) + 1])
    compacted = prepare(hnsw, DIM, len(hnsw), "hnsw", PARAMS)
    assert compacted is not hnsw
    assert compacted.tombstones == 0 and compacted.stored == len(hnsw)


def test_old_plain_flat_files_are_read(tmp_path):
    import faiss

    legacy = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    legacy.add_with_ids(clustered(20), chunk_ids(20))
    faiss.write_index(legacy, str(tmp_path / "old.faiss"))
    index = VectorIndex.read(tmp_path / "old.faiss")
    assert index.kind == "flat" and len(index) == 20
