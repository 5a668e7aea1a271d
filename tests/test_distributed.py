"""Ray Data embedding: shards hold the same vectors as one process, and sync uses them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from rag.distributed import (  # noqa: E402
    MANIFEST,
    EmbeddingShards,
    ShardEmbedder,
    embed_with_ray,
    plan_texts,
    text_key,
)
from rag.embedding import embedder_for  # noqa: E402
from rag.errors import RagError  # noqa: E402


@pytest.fixture(scope="module")
def ray_shards(seed_corpus, seed_settings, tmp_path_factory):
    """The seed corpus embedded by two Ray actors on a local Ray instance.

    This is the CI form of the issue's "local mode": Ray 2.60 refuses
    ``ray.init(local_mode=True)`` ("no longer supported", ray-project/ray#60647), and a
    one-machine Ray instance runs the same actor pool as a cluster does.
    """
    out = tmp_path_factory.mktemp("shards") / "emb"
    texts = plan_texts([seed_corpus], seed_settings.index)
    report = embed_with_ray(
        texts, out, seed_settings.index, concurrency=2, batch_size=16, num_cpus=2
    )
    assert report.texts == len(texts) and report.shards >= 1
    return texts, out


def test_ray_vectors_equal_single_process(ray_shards, seed_settings):
    texts, out = ray_shards
    shards = EmbeddingShards(out)
    assert len(shards) == len(texts)
    vectors, found = shards.lookup(texts)
    assert found.all()
    single = embedder_for(seed_settings.index).encode(texts)
    np.testing.assert_array_equal(vectors, single)


def test_sync_from_shards_embeds_nothing_and_matches_a_normal_sync(
    ray_shards, seed_corpus, seed_settings, seed_index, tmp_path
):
    from rag.indexing import sync
    from rag.store import Store, faiss_path
    from rag.vector_index import VectorIndex

    _, out = ray_shards
    settings = seed_settings.with_overrides(index_dir=tmp_path / "index")
    embedder = ShardEmbedder(EmbeddingShards(out), settings.model_path)
    report = sync([seed_corpus], settings, embedder=embedder)
    assert report.chunks == seed_index.chunks
    assert embedder.misses == 0 and embedder.hits > report.chunks  # chunks and sentences

    def vectors(index_dir):
        store = Store(index_dir)
        ids, v = VectorIndex.read(faiss_path(index_dir, store.generation)).vectors()
        texts = {c.chunk_id: c.text for c, _ in store.chunks(ids.tolist()).values()}
        return {texts[i]: row for i, row in zip(ids.tolist(), v, strict=True)}

    ours, reference = vectors(settings.index_dir), vectors(seed_settings.index_dir)
    assert ours.keys() == reference.keys()
    for text, vector in ours.items():
        np.testing.assert_array_equal(vector, reference[text])


def test_a_text_missing_from_the_shards_is_embedded_locally(ray_shards, seed_settings):
    _, out = ray_shards
    embedder = ShardEmbedder(EmbeddingShards(out), seed_settings.model_path)
    novel = "A sentence that no seed case report contains, about zebra migration."
    vector = embedder.encode([novel])
    assert embedder.misses == 1
    np.testing.assert_array_equal(vector, embedder_for(seed_settings.index).encode([novel]))


def test_shards_of_another_model_are_refused(ray_shards, tmp_path):
    _, out = ray_shards
    other = tmp_path / "other"
    shutil.copytree(out, other)
    manifest = json.loads((other / MANIFEST).read_text())
    manifest["model_id"] = "some-other-model@000000000000"
    (other / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(RagError, match="embedded with some-other-model"):
        EmbeddingShards(other, expected_model_id="all-MiniLM-L6-v2@abc")


def test_shards_of_another_backend_are_refused(ray_shards, seed_settings):
    _, out = ray_shards
    with pytest.raises(RagError, match="backend"):
        ShardEmbedder(EmbeddingShards(out), seed_settings.model_path, backend="torch")


def test_keys_depend_on_the_exact_text():
    assert text_key("Dura repaired.") == text_key("Dura repaired.")
    assert text_key("Dura repaired.") != text_key("Dura repaired. ")
    assert len(text_key("x")) == 16
