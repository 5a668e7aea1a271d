"""The seed corpus end to end: index, retrieve, the `rag ask` JSON contract, user errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rag.errors import RagError
from rag.retrieval import Filters
from rag.store import Store
from rag.titles import titles

BOILERPLATE = ["Talk to us", "Join us for a 30 min", "Schedule a call", "Disclaimer", "third-party"]


def rag(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, env=env
    )


def test_seed_corpus_is_indexed_whole(seed_index, pipeline):
    assert seed_index.failed == []
    assert seed_index.documents == 4
    stats = pipeline.store.stats()
    assert stats["documents"] == 4 and stats["chunks"] == seed_index.chunks
    assert pipeline.store.faiss_ids() == set(pipeline.store.chunks(range(1, 10_000)))


def test_no_indexed_chunk_contains_site_boilerplate(pipeline):
    texts = [c.text for c, _ in pipeline.store.chunks(range(1, 10_000)).values()]
    leaked = [(phrase, t[:60]) for t in texts for phrase in BOILERPLATE if phrase in t]
    assert leaked == []
    # ... while the article text around it is kept.
    assert any("rapid progression of bone erosion" in t for t in texts)
    assert any("first case of cervical spine instability" in t for t in texts)


def test_reference_list_of_seed_001_stays_out(pipeline):
    texts = [c.text for c, _ in pipeline.store.chunks(range(1, 10_000)).values()]
    assert not any("Boulman N" in t or "Semin Arthritis Rheum" in t for t in texts)


def test_dural_suture_question_finds_the_prolene_passage_first(pipeline):
    hits = pipeline.search("Which suture closed the dural tear?", k=5)
    assert "5-0 Prolene" in hits[0].chunk.text
    assert hits[0].rank == 1 and hits[0].doc.doc_id == "000_6ed44de2d61d2162"
    assert hits[0].dense_rank is not None or hits[0].lexical_rank is not None
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))


def test_filters_restrict_hits_to_chosen_documents(pipeline):
    only = Filters(doc_ids=frozenset({"001_3e401768c324d054"}))
    hits = pipeline.search("calcinosis of the spine", k=5, filters=only)
    assert hits and {h.doc.doc_id for h in hits} == {"001_3e401768c324d054"}


def test_seed_metadata_comes_from_the_catalog_and_is_not_invented(pipeline):
    docs = {d.doc_id: d for d in pipeline.store.documents()}
    assert docs["001_3e401768c324d054"].authors == ["Tal Gazitt", "Joy Feld", "Devy Zisman"]
    assert docs["000_6ed44de2d61d2162"].title == ""
    assert docs["000_6ed44de2d61d2162"].year is None


def test_ask_json_contract(seed_settings, seed_index):
    out = rag(
        "ask",
        "What suture was used to repair the dura?",
        "--json",
        "-k",
        "3",
        "--index",
        str(seed_settings.index_dir),
    )
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["question"] == "What suture was used to repair the dura?"
    assert isinstance(record["answer"], str) and isinstance(record["abstained"], bool)
    assert record["abstain_reason"] == ""  # answered, so no reason to abstain
    assert len(record["passages"]) == 3
    for p in record["passages"]:
        assert set(p) == {"rank", "doc_id", "title", "source", "section", "page", "text", "score"}
        assert isinstance(p["rank"], int) and isinstance(p["score"], float)
        assert p["section"] is None or isinstance(p["section"], str)
        assert p["page"] is None or isinstance(p["page"], int)
    assert [p["rank"] for p in record["passages"]] == [1, 2, 3]
    # Titles are the ones the app shows; the seeds carry no title, so never a file name.
    names = titles(Store(seed_settings.index_dir))
    for p in record["passages"]:
        assert p["title"] == names[p["doc_id"]]
        assert p["title"] and p["doc_id"] not in p["title"], p["title"]
    # `text` is the passage exactly as indexed.
    store = Store(seed_settings.index_dir)
    indexed = {c.text for c, _ in store.chunks(range(1, 10_000)).values()}
    assert all(p["text"] in indexed for p in record["passages"])
    for c in record["citations"]:
        assert set(c) >= {"n", "doc_id", "sentence", "passage_rank"}
        passage = record["passages"][c["passage_rank"] - 1]["text"]
        assert passage[c["start"] : c["end"]] == c["sentence"]


def test_ask_questions_file_loads_once_and_keeps_ids(seed_settings, seed_index, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"id": "q1", "question": "Which suture repaired the dura?"})
        + "\n"
        + json.dumps({"id": "q2", "question": "Where was the lumbar calcified lesion?"})
        + "\n"
    )
    out = rag(
        "ask", "--questions", str(questions), "--json", "--index", str(seed_settings.index_dir)
    )
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2"]
    assert "L5–S1" in " ".join(p["text"] for p in rows[1]["passages"][:3])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "question is empty"),
        (["ask", "anything", "--index", "/nonexistent/index"], "No index in /nonexistent/index"),
        (
            ["index", "/nonexistent/corpus", "--index", "/tmp/unused-index"],
            "no such file or folder",
        ),
        (["ask", "--questions", "/nonexistent/q.jsonl"], "cannot read"),
    ],
)
def test_user_mistakes_get_one_line_and_nonzero_exit(args, message):
    out = rag(*args)
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert len([line for line in out.stderr.splitlines() if line.startswith("error:")]) == 1


def test_index_built_with_another_model_fails_with_rebuild_advice(
    seed_settings, seed_index, tmp_path
):
    other = tmp_path / "other-model"
    other.mkdir()
    for f in seed_settings.model_path.rglob("*"):
        if f.is_file():
            target = other / f.relative_to(seed_settings.model_path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(f)
    (other / "config.json").unlink()
    (other / "config.json").write_text(
        (seed_settings.model_path / "config.json").read_text().replace("{", '{"note": "x",', 1)
    )
    from rag.staging import index_spec

    with pytest.raises(RagError, match="rebuild"):
        Store(
            seed_settings.index_dir,
            expected=index_spec(seed_settings.with_overrides(model=str(other)).index),
        )
    out = rag("ask", "dura", "--index", str(seed_settings.index_dir), "--model", str(other))
    assert out.returncode == 2 and "rag index --rebuild" in out.stderr


def test_an_index_takes_new_vectors_only_from_the_backend_that_built_it(seed_settings, tmp_path):
    import sqlite3

    from rag.indexing import sync
    from rag.pipeline import Pipeline

    settings = seed_settings.with_overrides(index_dir=tmp_path / "index")
    sync([settings.corpus_dir], settings)
    other = settings.with_overrides(backend="onnx")
    with pytest.raises(RagError, match=f"embedded with the {settings.backend} backend"):
        sync([settings.corpus_dir], other)
    assert Store(settings.index_dir).stats()["backend"] == settings.backend

    report = sync([settings.corpus_dir], other, rebuild=True)
    assert report.chunks_embedded == report.chunks and report.failed == []
    assert Store(settings.index_dir).stats()["backend"] == "onnx"
    # Reading needs no match: a question encoded by another backend finds the same passage.
    top = Pipeline(settings).search("Which suture closed the dural tear?", k=1)[0]
    assert "5-0 Prolene" in top.chunk.text

    # An index written before the backend was recorded was built with torch.
    with sqlite3.connect(settings.index_dir / "catalog.sqlite") as db:
        (raw,) = db.execute("SELECT value FROM manifest WHERE key='manifest'").fetchone()
        manifest = json.loads(raw)
        del manifest["backend"]
        db.execute("UPDATE manifest SET value=? WHERE key='manifest'", (json.dumps(manifest),))
    with pytest.raises(RagError, match="embedded with the torch backend"):
        sync([settings.corpus_dir], other)


def test_near_duplicate_passages_collapse_to_one(seed_settings, tmp_path):
    from rag.indexing import sync
    from rag.pipeline import Pipeline

    text = (
        "A 34-year-old man developed gouty tophi in the lumbar spine causing cauda equina "
        "compression. Laminectomy removed chalky white material. Uric acid crystals were seen."
    )
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(text)
    (corpus / "b.txt").write_text(text.replace("34-year-old", "35-year-old"))
    (corpus / "c.txt").write_text("Kawasaki disease is treated with intravenous immunoglobulin.")
    settings = seed_settings.with_overrides(corpus_dir=corpus, index_dir=tmp_path / "index")
    sync([corpus], settings)
    hits = Pipeline(settings).search("spinal gout with cauda equina compression", k=3)
    assert [h.doc.doc_id for h in hits][:1] in (["a"], ["b"])
    assert {h.doc.doc_id for h in hits} in ({"a", "c"}, {"b", "c"})


def test_sentence_search_ranks_chunks_by_their_closest_sentences(seed_settings, pipeline):
    from dataclasses import replace

    from rag.pipeline import Pipeline

    store = pipeline.store
    question = "Which suture closed the dural tear?"
    vector = pipeline.embedder.encode_query(question)
    ranked = store.sentence_search(vector, 5, decay=0.3)
    assert 0 < len(ranked) <= 5 and all(
        a[1] >= b[1] for a, b in zip(ranked, ranked[1:], strict=False)
    )
    # The score is the best sentence plus 0.3 x the second best of that chunk.
    sims = sorted(
        (float(v @ vector) for _, _, v in store.sentences([ranked[0][0]])[ranked[0][0]]),
        reverse=True,
    )
    expected = sims[0] + 0.3 * (sims[1] if len(sims) > 1 else 0.0)
    assert abs(ranked[0][1] - expected) < 1e-4
    # Fused as a third ranking when its weight is set.
    fused = Pipeline(replace(seed_settings, sentence_search_weight=0.5), pipeline.embedder)
    hits = fused.search(question, k=5)
    assert hits[0].doc.doc_id == "000_6ed44de2d61d2162"
    assert any("5-0 Prolene" in h.chunk.text for h in hits)


def test_mmr_shows_less_alike_passages_and_keeps_the_best_first(seed_settings, pipeline):
    from dataclasses import replace

    import numpy as np

    from rag.pipeline import Pipeline

    question = "How was calcinosis of the spine treated surgically?"

    def mean_pairwise_cosine(hits):
        v = pipeline.store.vectors([h.chunk.chunk_id for h in hits])
        sims = v @ v.T
        return float(sims[np.triu_indices(len(hits), 1)].mean())

    plain = pipeline.search(question, k=5)
    diverse = Pipeline(replace(seed_settings, mmr_lambda=0.5), pipeline.embedder).search(
        question, k=5
    )
    assert len(diverse) == len(plain) == 5
    assert diverse[0].chunk.chunk_id == plain[0].chunk.chunk_id  # the most relevant stays first
    assert [h.rank for h in diverse] == [1, 2, 3, 4, 5]
    # Float32 sums in another order differ in the last digits (0.64476925 vs 0.64476919).
    assert mean_pairwise_cosine(diverse) <= mean_pairwise_cosine(plain) + 1e-6
    assert [h.chunk.chunk_id for h in diverse] != [h.chunk.chunk_id for h in plain]


KEYWORDS_REPORT = """# Capnocytophaga canimorsus sepsis after a dog bite

**Keywords:** Capnocytophaga canimorsus; dog bite; purpura fulminans; septic shock

Abbreviations: ICU, intensive care unit; CRP, C-reactive protein

## Case presentation

A 58-year-old man was bitten on the back of his right hand by his own dog. Two days later
he was admitted to the ICU in septic shock with purpura fulminans. Blood cultures grew
Capnocytophaga canimorsus after five days. He was treated with intravenous ceftriaxone for
two weeks and recovered.
"""


def test_keywords_and_abbreviations_lines_are_never_quoted(tmp_path):
    """A report's keyword and abbreviation lists are indexed for search, but an answer
    never quotes them, whether its sentence vectors are stored or not."""
    from rag.config import load_settings
    from rag.indexing import sync
    from rag.pipeline import Pipeline

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "capnocytophaga.md").write_text(KEYWORDS_REPORT, encoding="utf-8")
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    assert sync([corpus], settings).failed == []
    pipeline = Pipeline(settings)
    question = "Which keywords describe the dog bite with septic shock and purpura fulminans?"
    hits = pipeline.search(question, k=5)
    assert any("**Keywords:**" in h.chunk.text for h in hits)  # searched ...
    sentences = [c.sentence for c in pipeline.answerer.candidates(hits)]
    assert any("ceftriaxone" in s for s in sentences)
    assert not any("Keywords" in s or "Abbreviations" in s for s in sentences)  # ... not quoted
    answer = pipeline.ask(question)
    assert not any("Keywords" in c.sentence for c in answer.citations)
