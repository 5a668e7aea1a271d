"""ONNX backends: local export, cached outside the package, same vectors as torch."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from rag.embedding import Embedder, onnx_model_path  # noqa: E402
from rag.errors import RagError  # noqa: E402

TEXTS = [
    "Which suture was used to repair the dura?",
    "ok",
    "Calcinosis cutis in systemic sclerosis. " * 60,  # past the 256-piece window: truncated
    "A 57-year-old woman presented with progressive weakness of both hands over six months.",
    "Tumoral calcinosis; CREST syndrome; lumbar spinal stenosis (L4–L5), résumé naïve café.",
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    """A private export folder, so the test proves export works from the model folder alone."""
    folder = tmp_path_factory.mktemp("onnx-cache")
    before = os.environ.get("RAG_ONNX_CACHE")
    os.environ["RAG_ONNX_CACHE"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("RAG_ONNX_CACHE", None)
    else:
        os.environ["RAG_ONNX_CACHE"] = before


@pytest.fixture(scope="module")
def model_dir():
    from rag.config import load_settings

    return load_settings().model_path


@pytest.fixture(scope="module")
def torch_vectors(model_dir):
    return Embedder(model_dir, backend="torch").encode(TEXTS)


def test_onnx_fp32_matches_torch_in_input_order(onnx_cache, model_dir, torch_vectors):
    vectors = Embedder(model_dir, backend="onnx").encode(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == torch_vectors.shape
    np.testing.assert_allclose(vectors, torch_vectors, atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_onnx_int8_stays_close_to_torch(onnx_cache, model_dir, torch_vectors):
    vectors = Embedder(model_dir, backend="onnx-int8").encode(TEXTS)
    cosine = (vectors * torch_vectors).sum(axis=1)
    assert cosine.min() > 0.97, cosine
    # Each text is still nearest to its own torch vector.
    assert (np.argmax(vectors @ torch_vectors.T, axis=1) == np.arange(len(TEXTS))).all()


def test_onnx_int8_vector_does_not_depend_on_batch_mates(onnx_cache, model_dir):
    """Activations are quantised per input tensor, so the encoder runs one text per call."""
    together = Embedder(model_dir, batch_size=32, backend="onnx-int8").encode(TEXTS)
    alone = np.vstack([Embedder(model_dir, backend="onnx-int8").encode([t]) for t in TEXTS])
    reversed_ = Embedder(model_dir, batch_size=2, backend="onnx-int8").encode(TEXTS[::-1])
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(together, reversed_[::-1])


def test_export_is_cached_outside_the_package(onnx_cache, model_dir):
    import rag

    fp32 = onnx_model_path(model_dir, quantized=False)
    int8 = onnx_model_path(model_dir, quantized=True)
    assert fp32.exists() and int8.exists() and int8.stat().st_size < fp32.stat().st_size
    package = Path(rag.__file__).parent
    for path in (fp32, int8):
        assert onnx_cache in path.parents
        assert package not in path.parents and model_dir not in path.parents
    stamp = int8.stat().st_mtime_ns
    assert onnx_model_path(model_dir, quantized=True) == int8
    assert int8.stat().st_mtime_ns == stamp  # reused, not exported again
    assert not list(fp32.parent.glob(".export-*"))  # no temporary leftovers


def test_unknown_backend_is_a_user_error(model_dir):
    with pytest.raises(RagError, match="Unknown embedding backend"):
        Embedder(model_dir, backend="tensorrt")


def test_pipeline_on_onnx_int8_retrieves_like_torch(onnx_cache, seed_settings, seed_index):
    from rag.eval.gold import load_gold
    from rag.pipeline import Pipeline

    gold = load_gold(Path(__file__).resolve().parent.parent / "eval" / "seed_gold.jsonl")
    questions = [q.question for q in gold if q.answerable]
    torch_pipe = Pipeline(seed_settings, Embedder(seed_settings.model_path, backend="torch"))
    onnx_pipe = Pipeline(seed_settings.with_overrides(backend="onnx-int8"))
    same = [
        torch_pipe.search(q, k=1)[0].chunk.chunk_id == onnx_pipe.search(q, k=1)[0].chunk.chunk_id
        for q in questions
    ]
    assert np.mean(same) >= 0.9
    answer = onnx_pipe.ask("Which suture was used to repair the dura?")
    assert not answer.abstained and "Prolene" in answer.text
