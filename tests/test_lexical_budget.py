"""The lexical side's cost cap (issue 17): only the rarest question terms, up to a budget of
postings, are matched. Real seed index, real SQLite FTS5 and its vocabulary; no timings."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest
from fixtures_builders import write_cases

from rag.config import load_settings
from rag.indexing import sync
from rag.pipeline import Pipeline
from rag.store import CATALOG, Store
from rag.terms import index_tokens, query_terms

QUESTION = "Which suture material closed the dural tear after cervical laminectomy surgery?"


def _matching_rows(store: Store, term: str) -> set[int]:
    rows = store.db.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", (f'"{term}"',))
    return {r[0] for r in rows}


def test_index_tokens_are_the_stems_fts5_stores():
    assert index_tokens("studies") == ("studi",)
    assert index_tokens("Naïve") == ("naiv",)
    assert index_tokens("crohn's") == ("crohn", "s")


def test_document_frequencies_count_the_passages_each_term_matches(pipeline):
    store = pipeline.store
    terms = query_terms(QUESTION) + ["zzqxv"]
    df = store.document_frequencies(terms)
    for term in terms:
        assert df[term] == len(_matching_rows(store, term)), term
    assert df["zzqxv"] == 0 and df["dural"] > 0


def test_pruning_keeps_the_rarest_terms_within_the_budget(pipeline):
    store = pipeline.store
    terms = query_terms(QUESTION) + ["zzqxv"]
    df = store.document_frequencies(terms)
    known = sorted((t for t in terms if df[t]), key=lambda t: df[t])
    assert store.prune_terms(terms, 10**9) == [t for t in terms if df[t]]  # unknown dropped
    assert store.prune_terms(terms, 1) == [known[0]]  # the rarest, even over the budget
    two = df[known[0]] + df[known[1]]
    kept = store.prune_terms(terms, two)
    assert set(known[:2]) <= set(kept)
    assert sum(df[t] for t in kept) <= two
    assert kept == [t for t in terms if t in kept]  # question order


def test_a_budget_the_question_fits_in_changes_nothing(pipeline):
    store = pipeline.store
    terms = query_terms(QUESTION)
    full = store.lexical_search(terms, 50)
    assert full
    assert store.lexical_search(terms, 50, budget=10**9) == full


def test_bm25_scores_reproduce_fts5_bm25(pipeline):
    store = pipeline.store
    for question in (QUESTION, "crohn's disease of the cervical spine", "calcinosis"):
        terms = query_terms(question)
        full = store.lexical_search(terms, 100)
        assert full, question
        mine = store.bm25_scores(terms, [i for i, _ in full])
        for chunk_id, score in full:
            assert mine[chunk_id] == pytest.approx(score, rel=1e-9), question


def test_a_pruned_search_ranks_what_the_rarest_terms_find_by_every_term(pipeline):
    store = pipeline.store
    terms = query_terms(QUESTION)
    df = store.document_frequencies(terms)
    known = [t for t in terms if df[t]]
    budget = min(df[t] for t in known)
    kept = store.prune_terms(terms, budget)
    assert 0 < len(kept) < len(known)
    pruned = store.lexical_search(terms, 50, budget=budget)  # the pool holds all it finds
    allowed = set().union(*(_matching_rows(store, t) for t in kept))
    assert pruned and {i for i, _ in pruned} <= allowed  # found by the kept terms only
    full = dict(store.lexical_search(terms, 1000))  # scored by every term, as the full query
    for chunk_id, score in pruned:
        assert score == pytest.approx(full[chunk_id], rel=1e-9)
    best_allowed = sorted((i for i in full if i in allowed), key=lambda i: -full[i])
    assert [i for i, _ in pruned] == best_allowed[: len(pruned)]


def test_the_budget_setting_reaches_the_pipeline(seed_settings, seed_index, pipeline):
    tight = Pipeline(
        replace(seed_settings, lexical_budget=1, lexical_budget_from=0), embedder=pipeline.embedder
    )
    loose = Pipeline(replace(seed_settings, lexical_budget=10**9), embedder=pipeline.embedder)
    try:
        question = "dural tear repaired with suture"
        assert [h.chunk.chunk_id for h in loose.search(question, mode="lexical")] == [
            h.chunk.chunk_id for h in pipeline.search(question, mode="lexical")
        ]
        rarest = tight.store.prune_terms(query_terms(question), 1)
        assert len(rarest) == 1
        allowed = _matching_rows(tight.store, rarest[0])
        assert {h.chunk.chunk_id for h in tight.search(question, mode="lexical")} <= allowed
        assert not tight.ask(question).abstained  # the dense side still finds the passage
    finally:
        tight.store.close()
        loose.store.close()


def test_a_small_index_is_never_pruned(seed_settings, seed_index, pipeline):
    """Below ``lexical_budget_from`` passages the full OR query is cheap: no pruning."""
    assert pipeline.store.passage_count() < seed_settings.lexical_budget_from
    small = Pipeline(replace(seed_settings, lexical_budget=1), embedder=pipeline.embedder)
    try:
        question = "dural tear repaired with suture"
        assert len(small.store.prune_terms(query_terms(question), 1)) == 1  # would prune

        def ranking(p: Pipeline) -> list[tuple[int, float]]:
            return [(h.chunk.chunk_id, h.score) for h in p.search(question, mode="lexical")]

        assert ranking(pipeline) and ranking(small) == ranking(pipeline)
    finally:
        small.store.close()


@pytest.fixture
def small(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write_cases(corpus, range(4))
    settings = load_settings(corpus_dir=corpus, index_dir=index, sentence_vectors=False)
    sync([corpus], settings)
    return settings


def test_frequencies_follow_the_generation_a_reader_holds(small):
    """A reader inside one generation keeps its counts while a writer commits; the next
    read sees the new generation's counts (the vocabulary is read in the same snapshot)."""
    store = Store(small.index_dir)
    try:
        before = store.document_frequencies(["recovered"])["recovered"]
        assert before == 4
        with store.reading():
            assert store.document_frequencies(["recovered"])["recovered"] == before
            write_cases(small.corpus_dir, range(4, 10))
            sync([small.corpus_dir], small)
            assert store.document_frequencies(["recovered"])["recovered"] == before
            assert store.prune_terms(["recovered"], 1) == ["recovered"]
        assert store.document_frequencies(["recovered"])["recovered"] == 10
        for path in sorted(small.corpus_dir.iterdir())[:3]:
            path.unlink()
        sync([small.corpus_dir], small)
        assert store.document_frequencies(["recovered"])["recovered"] == 7
    finally:
        store.close()


def test_the_vocabulary_view_writes_nothing_to_the_catalog(small):
    store = Store(small.index_dir)
    try:
        store.document_frequencies(["recovered"])
    finally:
        store.close()
    with sqlite3.connect(small.index_dir / CATALOG) as db:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert not any("vocab" in n for n in names)


def test_token_counts_match_the_full_tokenization(pipeline):
    """The fast counts (only words that can stem to a wanted token are stemmed) equal a
    count over every word tokenized by SQLite, on the seed passages and on hard cases."""
    from rag.terms import token_counts, token_offsets

    tricky = (
        "Cells–cells, CELLS; naïve Naïve NAÏVE cellμ μcells _cells 5-0 crohn's Crohn’s "
        "abilities nobility Sjögren's SJÖGREN ×cells éclair",
        "Cell Title",
    )
    rows = [tricky] + [
        (chunk.text, doc.title) for chunk, doc in pipeline.store.chunks(range(1, 200)).values()
    ]
    wanted = {"cell", "naiv", "5", "0", "crohn", "s", "abil", "nobil", "sjogren", "eclair"}
    wanted |= {t for term in query_terms(QUESTION) for t in index_tokens(term)}
    full = [{k: len(v) for k, v in d.items()} for d in token_offsets(rows, wanted)]
    assert token_counts(rows, wanted) == full
    assert full[0][(0, "sjogren")] == 2 and full[0][(0, "naiv")] == 3


def test_warming_the_vocabulary_reads_the_same_frequencies(small):
    store = Store(small.index_dir)
    try:
        counted = store.document_frequencies(["recovered", "presented", "zzqxv"])
        assert store.warm_vocabulary() > 10
        assert store.document_frequencies(["recovered", "presented", "zzqxv"]) == counted
        write_cases(small.corpus_dir, range(4, 6))
        sync([small.corpus_dir], small)  # a new generation: counted again, not stale
        assert store.document_frequencies(["recovered"])["recovered"] == 6
    finally:
        store.close()
