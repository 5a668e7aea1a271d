"""Questions answered while a re-index commits: one generation per search, no errors.

A search reads the FAISS index (dense), SQLite (lexical, chunk rows) and FAISS again
(the vectors of the passages it keeps). A writer may commit a new generation between
any two of those reads; a rebuild gives every passage a new chunk id. The first tests
commit a real rebuild at one chosen moment of a search, from a ``Store`` subclass
defined here (the shipped code runs unchanged, with real FAISS and SQLite), and check
that the search returns the same passages as without the commit. The soak test asks
questions through ``Pipeline.ask`` from two threads while another thread rebuilds the
index again and again.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fixtures_builders import write_cases

from rag.config import Settings, load_settings
from rag.embedding import Embedder
from rag.indexing import sync
from rag.pipeline import Pipeline
from rag.retrieval import Retriever
from rag.store import Store

QUESTIONS = [
    "Which patient was managed with catheter ablation?",
    "What did the investigations reveal in the teacher with jaundice?",
    "a welder with blurred vision had a vitrectomy",
    "Who was treated with topical terbinafine?",
]
SOAK_COMMITS = 25  # rebuild commits in the soak test, at least
SOAK_ASKS = 100  # ... and questions answered through Pipeline.ask meanwhile
# A safety bound only: the soak stops as soon as both counts are reached (about 90 s on a
# quiet 2-core machine); a machine busy with other work needs longer, not a failure.
SOAK_SECONDS = 300.0


@pytest.fixture(scope="module")
def embedder(tmp_path_factory) -> Embedder:
    settings = load_settings(index_dir=tmp_path_factory.mktemp("unused"))
    return Embedder(settings.model_path)


def indexed(folder: Path, embedder: Embedder) -> Settings:
    corpus, index = folder / "corpus", folder / "index"
    write_cases(corpus, range(8))
    settings = load_settings(corpus_dir=corpus, index_dir=index)
    sync([corpus], settings, embedder=embedder)
    return settings


def rebuild(settings: Settings, embedder: Embedder) -> None:
    """A real rebuild: the same documents committed again under new chunk ids."""
    sync([settings.corpus_dir], settings, rebuild=True, embedder=embedder)


class CommitDuring(Store):
    """A Store that lets a rebuild commit once, just before one chosen read of a search.

    With ``other_thread``, another thread then searches the same Store, so that the
    shared FAISS index moves on to the new generation before this search reads from it.
    """

    def __init__(self, settings: Settings, embedder: Embedder, moment: str, other_thread: bool):
        super().__init__(settings.index_dir)
        self.settings, self.embedder = settings, embedder
        self.moment, self.other_thread = moment, other_thread
        self.fired = False

    def _fire(self, moment: str) -> None:
        if self.fired or moment != self.moment:
            return
        self.fired = True
        before = self.faiss_generation()
        rebuild(self.settings, self.embedder)
        if self.other_thread:
            other = Retriever(self, self.embedder, self.settings.retrieval)
            thread = threading.Thread(target=other.search, args=(QUESTIONS[0],))
            thread.start()
            thread.join()
            assert self.faiss_generation() > before, "the other thread did not refresh"

    def faiss_generation(self) -> int:
        return self._generation

    def lexical_search(self, *args, **kwargs):
        self._fire("lexical_search")
        return super().lexical_search(*args, **kwargs)

    def chunks(self, chunk_ids):
        self._fire("chunks")
        return super().chunks(chunk_ids)

    def vectors(self, chunk_ids):
        self._fire("vectors")
        return super().vectors(chunk_ids)


def shown(hits) -> list[tuple[str, str, int]]:
    """What a clinician sees of the hits (chunk ids change with a rebuild, text does not)."""
    return [(h.chunk.doc_id, h.chunk.text, h.rank) for h in hits]


@pytest.mark.parametrize(
    ("moment", "other_thread"),
    [
        ("lexical_search", False),  # after the FAISS refresh and search, before FTS5
        ("chunks", False),  # after both searches, before the chunk rows are read
        ("vectors", False),  # after the chunk rows, right before the vector read
        ("vectors", True),  # ... and another thread has loaded the new generation
    ],
)
def test_a_commit_between_the_refresh_and_the_vector_read(tmp_path, embedder, moment, other_thread):
    settings = indexed(tmp_path, embedder)
    expected = shown(
        Retriever(Store(settings.index_dir), embedder, settings.retrieval).search(QUESTIONS[0])
    )
    assert len(expected) == settings.k
    store = CommitDuring(settings, embedder, moment, other_thread)
    hits = Retriever(store, embedder, settings.retrieval).search(QUESTIONS[0])
    assert store.fired, f"no commit happened at {moment}"
    assert shown(hits) == expected
    # The next search sees the new generation: the same passages under new chunk ids.
    again = Retriever(store, embedder, settings.retrieval).search(QUESTIONS[0])
    assert shown(again) == expected
    assert {h.chunk.chunk_id for h in again}.isdisjoint(h.chunk.chunk_id for h in hits)


def test_pipeline_ask_keeps_answering_during_repeated_rebuilds(tmp_path, embedder, capsys):
    """Two threads ask through ``Pipeline.ask``, a third only searches (an answer spends
    most of its time past the search), while the test rebuilds and commits again and again:
    until ``SOAK_COMMITS`` commits and ``SOAK_ASKS`` questions, or ``SOAK_SECONDS``."""
    settings = indexed(tmp_path, embedder)
    pipeline = Pipeline(settings, embedder)
    expected = {q: summary(pipeline.ask(q)) for q in QUESTIONS}
    counts, errors, changed = [0, 0, 0], [], []
    done = threading.Event()

    def asker(slot: int, ask: bool) -> None:
        while not done.is_set():
            question = QUESTIONS[counts[slot] % len(QUESTIONS)]
            try:
                got = summary(pipeline.ask(question)) if ask else shown(pipeline.search(question))
            except Exception as exc:  # noqa: BLE001 (counted and reported below)
                errors.append(f"{type(exc).__name__}: {exc}")
            else:
                if got != (expected[question] if ask else expected[question][1]):
                    changed.append(question)
            counts[slot] += 1

    threads = [threading.Thread(target=asker, args=(n, n < 2)) for n in range(3)]
    for t in threads:
        t.start()
    commits, started = 0, time.monotonic()
    try:
        while time.monotonic() - started < SOAK_SECONDS and (
            commits < SOAK_COMMITS or sum(counts[:2]) < SOAK_ASKS
        ):
            rebuild(settings, embedder)
            commits += 1
    finally:
        done.set()
        for t in threads:
            t.join()
    with capsys.disabled():
        print(
            f"\nsoak: {sum(counts[:2])} asks and {counts[2]} searches during {commits} rebuild "
            f"commits in {time.monotonic() - started:.1f} s, {len(errors)} errors, "
            f"{len(changed)} changed results"
        )
    assert errors == [], errors[:3]
    assert changed == [], changed[:3]
    assert commits >= SOAK_COMMITS and sum(counts[:2]) >= SOAK_ASKS


def summary(answer) -> tuple[str, list[tuple[str, str, int]]]:
    return answer.text, shown(answer.hits)
