"""``python -m rag.scale --hybrid`` on a small size: a real index of passages stitched from
the seed index's real sentences, written by the project's Writer, served by the Pipeline (in
this process here; in its own with the command). Checks what the run reports, not how
fast it was."""

from __future__ import annotations

import json

from fixtures_builders import index_problems

from rag.eval.scale import HYBRID_FIELDS, run_hybrid, sentence_pool, synthetic_documents
from rag.store import Store

QUESTIONS = [
    "Which suture closed the dural tear?",
    "How old was the patient with scleroderma?",
    "What did the MRI show?",
]


def test_synthetic_passages_are_real_sentences_with_their_vectors(seed_settings, seed_index):
    pool = sentence_pool(seed_settings.index_dir, QUESTIONS)
    batches = list(synthetic_documents(pool, 25, per_doc=10))
    assert [len(chunks) for _, chunks, _, _ in batches] == [10, 10, 5]
    known = set(pool.texts)
    for _, chunks, vectors, rows in batches:
        assert abs(float((vectors**2).sum(axis=1).mean()) - 1.0) < 1e-4
        for chunk, spans in zip(chunks, rows, strict=True):
            assert chunk.text.count(" ") + 1 >= 150
            for start, end, vector in spans:
                assert chunk.text[start:end] in known  # a real sentence, whole
                assert vector.dtype.name == "float16"


def test_hybrid_run_reports_every_field_from_a_consistent_index(
    seed_settings, seed_index, tmp_path
):
    pool = sentence_pool(seed_settings.index_dir, QUESTIONS)
    # Served in this process: a spawned child of a long test session can die on start-up,
    # which the command line (a fresh process each time) does not meet.
    entry = run_hybrid(
        300, pool, budget=50, questions=0, workdir=tmp_path, keep=True, own_process=False
    )
    print("\n" + json.dumps({k: entry[k] for k in HYBRID_FIELDS}))
    assert set(HYBRID_FIELDS) <= set(entry) and entry["passages"] == 300
    assert entry["dense_recall_at_10"] == 1.0  # flat at this size: exact
    assert entry["questions"] == 3 and entry["rss_mb"] > 0 and entry["build_s"] >= 0
    assert entry["hybrid_p50_ms"] <= entry["answer_p50_ms"]
    index = tmp_path / "hybrid-300"
    assert index_problems(index) == []
    store = Store(index)
    try:
        assert store.stats()["chunks"] == 300
        assert store.lexical_search(["dura", "suture"], 10, budget=50)  # pruned or not
    finally:
        store.close()
