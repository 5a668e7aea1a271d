"""Benchmark helpers: the bare comparison embeds exactly what sync embedded; the rules hold.

No timing is asserted here: benchmarks are commands (``python -m rag.bench``), and
their figures are quoted in eval/bench/RESULTS.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from rag.eval.bench.encode import onnx_verdict, padding_ratios
from rag.eval.bench.encoders import embedded_texts
from rag.eval.bench.run import prepare_corpus
from rag.eval.scale import Source, recall_at, run_fts, synthetic_vectors


def test_bare_benchmark_embeds_exactly_the_texts_sync_embedded(seed_settings, seed_index):
    from rag.embedding import embedder_for
    from rag.store import Store, faiss_path
    from rag.vector_index import VectorIndex

    chunks, sentences = embedded_texts(seed_settings.index_dir, seed_settings)
    store = Store(seed_settings.index_dir)
    assert len(chunks) == seed_index.chunks
    stored = store.db.execute("SELECT count(*) FROM sentences").fetchone()[0]
    assert 0 < len(sentences) <= stored and len(set(sentences)) == len(sentences)
    # The chunk texts (with prefix) re-embed to the very vectors in the FAISS file.
    ids, vectors = VectorIndex.read(faiss_path(seed_settings.index_dir, store.generation)).vectors()
    again = embedder_for(seed_settings.index).encode(chunks)  # the backend that built the index
    np.testing.assert_allclose(again, vectors[np.argsort(ids)], atol=1e-6)


def test_sorting_by_tokens_never_pads_more(seed_settings, seed_index):
    chunks, sentences = embedded_texts(seed_settings.index_dir, seed_settings)
    for batch in (4, 16):
        r = padding_ratios(chunks + sentences, seed_settings.model_path, batch)
        assert 1.0 <= r["by_tokens"] <= r["by_characters"]
        assert r["by_tokens"] <= r["unsorted"]


@pytest.mark.parametrize(
    ("speedup", "torch_ndcg", "int8_ndcg", "default"),
    [
        (2.5, 0.700, 0.698, True),
        (2.5, 0.700, 0.695, False),  # loses exactly 0.005: not < 0.005
        (1.7, 0.700, 0.700, False),  # not fast enough
        (1.8, 0.700, 0.7049, True),
    ],
)
def test_onnx_default_rule(speedup, torch_ndcg, int8_ndcg, default):
    from rag.config import Settings

    encode = {"speedup_vs_torch": {"torch": 1.0, "onnx-int8": speedup}}
    other = "dense" if Settings().mode != "dense" else "lexical"
    ndcg = {
        "runs": [
            {"backend": "torch", "mode": Settings().mode, "ndcg@10": torch_ndcg},
            {"backend": "onnx-int8", "mode": Settings().mode, "ndcg@10": int8_ndcg},
            # Another mode's loss is reported, but the default mode's decides.
            {"backend": "torch", "mode": other, "ndcg@10": 0.6},
            {"backend": "onnx-int8", "mode": other, "ndcg@10": 0.58},
        ]
    }
    verdict = onnx_verdict(encode, ndcg)
    assert verdict["make_default"] is default
    assert verdict["ndcg_loss_by_mode"][other] == 0.02


def test_seed_corpus_copy_and_questions(tmp_path):
    corpus, questions = prepare_corpus("seed", None, tmp_path / "c")
    assert any(corpus.glob("*.txt")) and len(questions) >= 5


def test_synthetic_vectors_are_unit_and_near_their_source():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(50, 384)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    x = synthetic_vectors(base, 1000, noise=0.03)
    assert x.shape == (1000, 384) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    nearest = (x @ base.T).max(axis=1)
    assert nearest.min() > 0.75  # noise ~0.59 in norm: still clearly its source's copy
    np.testing.assert_array_equal(x, synthetic_vectors(base, 1000, noise=0.03))


def test_recall_at_counts_overlap():
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert recall_at(np.array([[1, 2, 3, 4], [5, 6, 0, 0]]), truth) == 0.75


def test_fts_scale_run_uses_the_store_query(tmp_path):
    source = Source(
        vectors=np.zeros((1, 4), np.float32),
        sentences=["The dura was repaired with 5-0 Prolene suture.", "Calcinosis was noted."],
        titles=["Case"],
        queries=["Which suture repaired the dura?"],
        query_vectors=np.zeros((1, 4), np.float32),
        origin="test",
    )
    run = run_fts(300, source, tmp_path)
    assert run.size == 300 and run.mean_matches > 0 and run.p50_ms >= 0
    assert not list(tmp_path.glob("fts-*"))  # cleaned up
