"""Read access to an index directory: one generation per question, shared by threads."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from rag.card_store import read_cards
from rag.documents import CaseCard, Chunk, DocInfo
from rag.errors import RagError
from rag.store.catalog import CATALOG, DOC_COLUMNS, connect, doc_info, faiss_path
from rag.store.lexical import LexicalReads
from rag.store.spec import IndexSpec
from rag.store.vectors import VectorReads
from rag.vector_index import VectorIndex

PIN_TRIES = 5  # fresh snapshots a reader takes when writers keep outpacing it


class Store(LexicalReads, VectorReads):
    """Read access to an index directory, safe to share between threads.

    Each thread gets its own SQLite connection; the FAISS index is swapped for a new
    generation as soon as a writer commits one (checked cheaply on every query).
    """

    def __init__(self, index_dir: Path, expected: IndexSpec | None = None):
        self.dir = Path(index_dir)
        if not (self.dir / CATALOG).exists():
            raise RagError(
                f"No index in {self.dir}: build one with `rag index` (or `rag index PATH "
                f"--index {self.dir}`)."
            )
        self._local = threading.local()
        self._faiss_lock = threading.Lock()
        self._faiss = None
        self._generation = -1
        self._sentence_index = None  # (generation, flat FAISS index, chunk id per row), lazy
        self._df_cache: tuple[int, dict[str, int]] = (-1, {})  # generation, token -> df
        self.manifest = self._read_manifest()
        if expected is not None:
            expected.check(self.manifest, self.dir)
        self.refresh()

    # -- connections and manifest -------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.dir / CATALOG)
            # The FTS5 vocabulary (document frequency per token) as this connection's own
            # read-only view: nothing is written to the catalog, and it reads the snapshot
            # the connection reads, so it always matches the generation in hand.
            conn.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_vocab"
                " USING fts5vocab(main, chunks_fts, 'row')"
            )
            self._local.conn = conn
        return conn

    def _read_manifest(self) -> IndexSpec:
        values = dict(self.db.execute("SELECT key, value FROM manifest"))
        if "manifest" not in values:
            raise RagError(f"The index in {self.dir} is empty or incomplete: run `rag index`.")
        return IndexSpec.from_json(values["manifest"])

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM manifest"))

    @property
    def generation(self) -> int:
        row = self.db.execute("SELECT value FROM manifest WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def refresh(self) -> None:
        """Load the FAISS generation the catalog names, if it is not the one loaded.

        Inside :meth:`reading` this does nothing: the thread keeps the generation it holds.
        """
        if self._pinned() is not None:
            return
        for _ in range(5):
            generation = self.generation
            if generation == self._generation:
                return
            try:
                index = self._read_generation(generation)
            except RuntimeError:
                time.sleep(0.05)  # a writer replaced it between our two reads: retry
                continue
            with self._faiss_lock:
                self._faiss, self._generation = index, generation
            return
        raise RagError(f"The index in {self.dir} names a vectors file that is missing: rebuild.")

    def _read_generation(self, generation: int) -> VectorIndex | None:
        """The FAISS index of one generation (the loaded one, or read from its file)."""
        with self._faiss_lock:
            if generation == self._generation:
                return self._faiss
        return VectorIndex.read(faiss_path(self.dir, generation)) if generation else None

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Every read of this thread inside the block sees one generation.

        A search reads FAISS, then SQLite, then FAISS again (the vectors of the passages
        it keeps). A writer that commits in between would hand it chunk ids of two
        generations, and a rebuild renumbers every chunk. Inside the block the thread's
        SQLite reads share one snapshot (a WAL read transaction) and its FAISS reads use
        the index of the generation that snapshot names, whatever other threads load.
        Re-entrant; other threads are not affected.
        """
        if self._pinned() is not None:
            yield
            return
        db = self.db
        own = not db.in_transaction
        if own:
            db.execute("BEGIN")
        try:
            self._local.pinned = self._pin(restart=own)
            yield
        finally:
            self._local.pinned = None
            if own:
                db.execute("COMMIT")

    def _pin(self, restart: bool) -> tuple[int, VectorIndex | None]:
        """The generation this thread's snapshot names, with its FAISS index.

        A writer keeps the previous generation's file until its next commit, so the file
        is gone only when two commits passed since the snapshot began: start a new one.
        """
        for _ in range(PIN_TRIES):
            generation = self.generation  # the first read: the snapshot starts here
            try:
                index = self._read_generation(generation)
            except RuntimeError:
                if not restart:
                    break
                self.db.execute("COMMIT")
                time.sleep(0.05)
                self.db.execute("BEGIN")
                continue
            with self._faiss_lock:
                if generation > self._generation:  # newer than the shared one: share it
                    self._faiss, self._generation = index, generation
            return generation, index
        raise RagError(f"The index in {self.dir} names a vectors file that is missing: rebuild.")

    def _pinned(self) -> tuple[int, VectorIndex | None] | None:
        return getattr(self._local, "pinned", None)

    def _current(self) -> tuple[int, VectorIndex | None]:
        """(generation, FAISS index) for this thread's next read: its pinned one, or the
        latest committed."""
        pinned = self._pinned()
        if pinned is not None:
            return pinned
        self.refresh()
        with self._faiss_lock:
            return self._generation, self._faiss

    def chunks(self, chunk_ids: Iterable[int]) -> dict[int, tuple[Chunk, DocInfo]]:
        ids = list(chunk_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT c.chunk_id, c.ordinal, c.section, c.page_start, c.page_end, c.char_start,"
            f" c.char_end, c.n_tokens, c.text, {DOC_COLUMNS}"
            f" FROM chunks c JOIN documents d USING (doc_key) WHERE c.chunk_id IN ({marks})",
            ids,
        )
        out = {}
        for row in rows:
            doc = doc_info(row[9:])
            out[row[0]] = (
                Chunk(
                    doc.doc_id,
                    row[1],
                    row[8],
                    row[2],
                    row[3],
                    row[4],
                    row[5],
                    row[6],
                    row[7],
                    chunk_id=row[0],
                ),
                doc,
            )
        return out

    def cards(self, doc_ids: Iterable[str] | None = None) -> list[CaseCard]:
        return read_cards(self.db, doc_ids)

    def first_passages(self) -> dict[str, tuple[str | None, str]]:
        """Each document's first section heading and the text of its first passage (what
        a title falls back on when the metadata has none)."""
        rows = self.db.execute(
            "SELECT d.doc_id, c.ordinal, c.section, c.text FROM chunks c JOIN documents d"
            " USING (doc_key) WHERE c.ordinal = 0 OR c.section IS NOT NULL"
            " ORDER BY d.doc_id, c.ordinal"
        )
        first: dict[str, tuple[str | None, str]] = {}
        for doc_id, ordinal, section, text in rows:
            heading, opening = first.get(doc_id, (None, ""))
            first[doc_id] = (heading or section, text if ordinal == 0 else opening)
        return first

    def documents(self) -> list[DocInfo]:
        rows = self.db.execute(f"SELECT {DOC_COLUMNS} FROM documents d ORDER BY d.doc_id")
        return [doc_info(r) for r in rows]

    def chunk_ids_for_docs(self, doc_ids: Iterable[str]) -> set[int]:
        ids = list(doc_ids)
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT chunk_id FROM chunks JOIN documents USING (doc_key) WHERE doc_id IN ({marks})",
            ids,
        )
        return {r[0] for r in rows}

    def stats(self) -> dict:
        meta = self.meta()
        return {
            "documents": self.db.execute("SELECT count(*) FROM documents").fetchone()[0],
            "chunks": self.db.execute("SELECT count(*) FROM chunks").fetchone()[0],
            "model": self.manifest.model_id,
            "backend": self.manifest.backend,
            "index_type": self._faiss.kind if self._faiss is not None else "none",
            "generation": self.generation,
            "built_at": meta.get("built_at", ""),
        }

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
