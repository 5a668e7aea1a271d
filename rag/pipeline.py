"""The one path from a question to hits and an answer, shared by the CLI, app and evaluator."""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property

from rag.answering import Answerer
from rag.cards import FieldReader
from rag.config import Settings
from rag.documents import Answer, CaseCard, Hit
from rag.embedding import Embedder, embedder_for
from rag.errors import RagError
from rag.query import Query
from rag.reader.model import reader_for
from rag.reader.passage import passage_reader_for
from rag.retrieval import Retriever
from rag.similar import Match, passage_similarity, rank_cases, summary_card
from rag.staging import index_spec
from rag.store import Store


class Pipeline:
    """An opened index plus the loaded model; safe to share between threads."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        import faiss

        # One question at a time gains nothing from OpenMP threads, and their spin-waits
        # cost tens of milliseconds when the CPU is busy with anything else.
        faiss.omp_set_num_threads(1)
        self.settings = settings
        self.store = Store(settings.index_dir, expected=index_spec(settings.index))
        self.embedder = embedder or embedder_for(settings.index)
        reader = reader_for(self.settings.reader_model) if settings.reader else None
        self.retriever = Retriever(self.store, self.embedder, settings.retrieval, reader)
        passage_reader = passage_reader_for(settings.reader_model) if reader else None
        self.answerer = Answerer(
            self.embedder, settings.answering, self.store, reader, passage_reader
        )
        # question, k, filters, mode -> the Query every stage and the answerer read
        self.query = self.retriever.query

    def warm_up(self) -> None:
        """Load the model and run one query so the first real question is fast."""
        self.embedder.encode(["warm up"], progress=False)
        if self.answerer.reader:
            self.answerer.reader.score("warm up", ["The reader loads its model once."])
        if self.answerer.passage_weight:
            text = "The passage reader loads its model once."
            self.answerer.passage_reader.score("warm up", [(text, [(0, len(text))])])
        self.store.refresh()
        if self.settings.lexical_budget:  # its pruning reads document frequencies
            self.store.warm_vocabulary()

    def search(self, *request, **options) -> list[Hit]:
        """The best passages for a question (the arguments of :meth:`query`)."""
        return self.retriever.run(self.query(*request, **options))

    def cards(self, doc_ids: list[str] | None = None) -> list[CaseCard]:
        """The case cards read at index time (all, or of these documents)."""
        return self.store.cards(doc_ids)

    def similar(self, summary: str, k: int = 10) -> tuple[CaseCard, list[Match]]:
        """The case reports that best match a patient summary, with the fields that agree."""
        summary = (summary or "").strip()
        if not summary:
            raise RagError("The patient summary is empty: paste a few sentences about the patient.")
        query = summary_card(summary, self.field_reader)
        vector = self.embedder.encode_query(summary)
        similarity = passage_similarity(self.store, vector)
        cards = self.store.cards()
        # A report without a card (it states no age, no "the patient") still ranks by text.
        carded = {c.doc_id for c in cards}
        cards += [
            CaseCard(d.doc_id, d.title) for d in self.store.documents() if d.doc_id not in carded
        ]
        return query, rank_cases(summary, query, cards, similarity)[:k]

    @cached_property
    def field_reader(self) -> FieldReader:
        """Reads a summary's card; built once, since it embeds each field's examples."""
        reader = self.answerer.reader or reader_for(self.settings.reader_model)
        return FieldReader(reader, self.embedder)

    def passages(self, query: Query) -> list[Hit]:
        """What :meth:`ask` reads: the ``query.k`` best passages, or as many more as the
        answerer may read (it shows only the k asked for, and those it quotes)."""
        return self.retriever.run(replace(query, k=max(query.k, self.answerer.depth)))

    def ask(self, *request, **options) -> Answer:
        """A cited answer, or an abstention (the arguments of :meth:`query`)."""
        query = self.query(*request, **options)
        return self.answerer.answer(query, self.passages(query))
