"""The one path from a question to hits and an answer, shared by the CLI, app and evaluator."""

from __future__ import annotations

from rag.answering import Answerer
from rag.config import Settings
from rag.documents import Answer, Hit
from rag.embedding import Embedder, embedder_for
from rag.indexing import manifest_for
from rag.retrieval import Filters, Retriever
from rag.store import Store


class Pipeline:
    """An opened index plus the loaded model; safe to share between threads."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        import faiss

        # One question at a time gains nothing from OpenMP threads, and their spin-waits
        # cost tens of milliseconds when the CPU is busy with anything else.
        faiss.omp_set_num_threads(1)
        self.settings = settings
        self.store = Store(settings.index_dir, expected=manifest_for(settings))
        self.embedder = embedder or embedder_for(settings)
        self.retriever = Retriever(self.store, self.embedder, settings)
        self.answerer = Answerer(self.embedder, settings, self.store)

    def warm_up(self) -> None:
        """Load the model and run one query so the first real question is fast."""
        self.embedder.encode(["warm up"], progress=False)
        self.store.refresh()

    def search(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        mode: str | None = None,
    ) -> list[Hit]:
        return self.retriever.search(question, k, filters, mode)

    def ask(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        mode: str | None = None,
    ) -> Answer:
        hits = self.search(question, k, filters, mode)
        return self.answerer.answer(question, hits)
