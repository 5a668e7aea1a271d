"""Past one machine (issue 17, docs/SCALE-OUT.md): the seed index mirrored into Qdrant
(qdrant-client's local mode, the same API as a server) with dense and sparse BM25 vectors
fused in the engine, and generations that a crashed writer cannot leak into.

Real seed index, real model vectors, real Qdrant client; skipped only when qdrant-client
is not installed (it is in the test extras)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

qdrant_client = pytest.importorskip("qdrant_client")

from rag.scale_out import QdrantMirror, average_length, mirror_store, store_passages  # noqa: E402
from rag.terms import query_terms  # noqa: E402

GOLD = Path(__file__).resolve().parent.parent / "eval" / "seed_gold.jsonl"


@pytest.fixture(scope="module")
def mirrored(pipeline, tmp_path_factory):
    client = qdrant_client.QdrantClient(path=str(tmp_path_factory.mktemp("qdrant")))
    mirror = QdrantMirror(client)
    generation = mirror_store(pipeline.store, mirror)
    yield mirror, generation
    client.close()


def _search(pipeline, mirror, question: str, generation: int, k: int = 5):
    vector = pipeline.embedder.encode_query(question)
    return mirror.search(vector, query_terms(question), generation, k)


def _doc_ids(pipeline, ranked) -> list[str]:
    chunks = pipeline.store.chunks([i for i, _ in ranked])
    return [chunks[i][1].doc_id for i, _ in ranked]


def test_the_engine_holds_every_passage_of_the_generation(pipeline, mirrored):
    mirror, generation = mirrored
    assert generation == pipeline.store.generation > 0
    count = mirror.client.count(mirror.collection, count_filter=mirror.visible(generation))
    assert count.count == len(pipeline.store.faiss_ids())


def test_hybrid_search_in_the_engine_finds_the_gold_reports(pipeline, mirrored):
    """Seed gold, answerable questions: the engine's dense + BM25 RRF top 5 holds a
    relevant report about as often as CaseQA's own hybrid retrieval."""
    mirror, generation = mirrored
    gold = [json.loads(line) for line in GOLD.read_text().splitlines() if line.strip()]
    gold = [g for g in gold if g["answerable"]]
    engine = own = 0
    for g in gold:
        ranked = _search(pipeline, mirror, g["question"], generation)
        engine += bool(set(_doc_ids(pipeline, ranked)) & set(g["relevant"]))
        hits = pipeline.search(g["question"], k=5)
        own += bool({h.chunk.doc_id for h in hits} & set(g["relevant"]))
    print(f"\nseed gold hit rate@5 (report level): engine {engine}/{len(gold)}, CaseQA {own}")
    assert engine >= own - 2 and engine >= 0.9 * len(gold)


def test_a_writer_that_dies_before_its_catalog_commit_leaks_nothing(pipeline, mirrored):
    mirror, generation = mirrored
    question = "Which suture material was used to close the tear in the dura?"
    before = _search(pipeline, mirror, question, generation, k=10)
    top = before[0][0]
    # Generation g+1 staged in the engine: a copy of the best passage under a new id, and
    # the best passage itself marked removed. The catalog never commits g+1.
    copy = store_passages(pipeline.store, [top])[0]
    copy.chunk_id = 10**6
    mirror.stage(generation + 1, [copy], [top], average_length(pipeline.store))
    assert _search(pipeline, mirror, question, generation, k=10) == before  # readers of g
    staged = _search(pipeline, mirror, question, generation + 1, k=10)
    assert staged[0][0] == 10**6 and top not in [i for i, _ in staged]
    # The next writer recovers to the committed generation: as if g+1 never happened.
    mirror.recover(generation)
    assert mirror.client.retrieve(mirror.collection, [10**6]) == []
    assert _search(pipeline, mirror, question, generation + 1, k=10) == before


def test_garbage_collection_drops_only_what_no_reader_sees(pipeline, mirrored):
    mirror, generation = mirrored
    some = sorted(pipeline.store.faiss_ids())[:1]
    mirror.stage(generation + 1, [], some, average_length(pipeline.store))
    mirror.collect(oldest_reader=generation)  # a reader still holds g: the point stays
    assert len(mirror.client.retrieve(mirror.collection, some)) == 1
    mirror.recover(generation)  # leave the shared mirror as the catalog has it
    assert mirror.client.count(mirror.collection, count_filter=mirror.visible(generation)).count
