"""The index on disk: an SQLite catalog (documents, chunks, FTS5) beside a FAISS file.

Crash safety: a write builds ``vectors.<generation>.faiss`` beside the current file,
then commits, in one SQLite transaction, the catalog changes together with the new
generation number. A crash before the commit leaves the old generation in force (the
orphan file is removed by the next writer); readers always load the generation the
catalog names. One writer at a time holds an ``flock`` on ``write.lock``; the kernel
releases it when the writer dies, so a stale lock cannot block the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.card_store import CARDS_SCHEMA, read_cards, write_cards
from rag.documents import CaseCard, Chunk, DocInfo, Document
from rag.errors import RagError
from rag.terms import FTS_TOKENIZE, fts_query, index_tokens, token_counts, token_offsets
from rag.vector_index import VectorIndex, prepare

SCHEMA_VERSION = 1
CATALOG = "catalog.sqlite"
LOCK = "write.lock"
BM25_K1, BM25_B = 1.2, 0.75  # FTS5's bm25() constants
RESCORE_POOL = 1  # a pruned lexical query fetches this many x depth passages to re-score
PIN_TRIES = 5  # fresh snapshots a reader takes when writers keep outpacing it

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_key INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL DEFAULT '',
    authors TEXT NOT NULL DEFAULT '[]',
    journal TEXT NOT NULL DEFAULT '',
    year INTEGER,
    doi TEXT NOT NULL DEFAULT '',
    pmid TEXT NOT NULL DEFAULT '',
    line_keys TEXT NOT NULL DEFAULT '[]',
    indexed_at TEXT NOT NULL,
    common_keys TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_key INTEGER NOT NULL REFERENCES documents(doc_key) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    section TEXT,
    page_start INTEGER,
    page_end INTEGER,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_key);
CREATE TABLE IF NOT EXISTS sentences (
    chunk_id INTEGER NOT NULL REFERENCES chunks(chunk_id) ON DELETE CASCADE,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (chunk_id, start)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, title, tokenize = '{FTS_TOKENIZE}'
);
"""


@dataclass(frozen=True)
class Manifest:
    """What the index was built with; a mismatch with the settings means rebuild."""

    model_id: str
    dimension: int
    chunk_tokens: int
    overlap_tokens: int
    embed_prefix: bool
    schema_version: int = SCHEMA_VERSION
    normalized: bool = True
    index_type: str = "auto"  # the setting; `stats()` reports the type actually built
    # The embedding runtime of every stored vector. Indexes written before it was recorded
    # were all built with torch, the default of that time.
    backend: str = "torch"

    def check(self, other: Manifest, index_dir: Path) -> None:
        how = f"rebuild it with `rag index --rebuild --index {index_dir}`"
        if self.schema_version != other.schema_version:
            raise RagError(
                f"The index in {index_dir} has schema version {other.schema_version}, "
                f"this version of CaseQA reads {self.schema_version}: {how}."
            )
        if (self.model_id, self.dimension) != (other.model_id, other.dimension):
            raise RagError(
                f"The index in {index_dir} was built with the model {other.model_id} "
                f"({other.dimension} dimensions), but the configured model is {self.model_id} "
                f"({self.dimension}): {how}, or point RAG_MODEL at the model it was built with."
            )

    def check_backend(self, stored: Manifest, index_dir: Path) -> None:
        """A writer may not add vectors of another runtime: they differ in the last digits.

        Readers need no check: a question encoded by another backend still finds the
        same passages (cosine > 0.98 between backends).
        """
        if self.backend != stored.backend:
            raise RagError(
                f"The index in {index_dir} was embedded with the {stored.backend} backend, "
                f"and the configured backend is {self.backend}: set RAG_BACKEND="
                f"{stored.backend} (or --backend {stored.backend}) to add to it, or re-embed "
                f"it with `rag index --rebuild --index {index_dir}`."
            )

    def same_chunking(self, other: Manifest) -> bool:
        return (self.chunk_tokens, self.overlap_tokens, self.embed_prefix) == (
            other.chunk_tokens,
            other.overlap_tokens,
            other.embed_prefix,
        )


class Store:
    """Read access to an index directory, safe to share between threads.

    Each thread gets its own SQLite connection; the FAISS index is swapped for a new
    generation as soon as a writer commits one (checked cheaply on every query).
    """

    def __init__(self, index_dir: Path, expected: Manifest | None = None):
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

    def _read_manifest(self) -> Manifest:
        values = dict(self.db.execute("SELECT key, value FROM manifest"))
        if "manifest" not in values:
            raise RagError(f"The index in {self.dir} is empty or incomplete: run `rag index`.")
        return Manifest(**json.loads(values["manifest"]))

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

    # -- queries -----------------------------------------------------------------------
    def dense_search(self, vector: np.ndarray, depth: int) -> list[tuple[int, float]]:
        _, index = self._current()
        if index is None or len(index) == 0:
            return []
        scores, ids = index.search(vector.reshape(1, -1), depth)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def sentence_search(
        self, vector: np.ndarray, depth: int, decay: float = 0.3, pool: int = 10
    ) -> list[tuple[int, float]]:
        """Chunks ranked by their closest stored sentences: best + ``decay`` x second best.

        Searches every stored sentence vector (an in-memory flat index built on first use
        and again after a writer commits), takes the ``pool * depth`` nearest and scores
        each chunk they belong to. A claim often matches one or two sentences of a passage
        closely while the passage as a whole is about more.
        """
        generation, _ = self._current()
        loaded = self._sentence_index
        if loaded is None or loaded[0] != generation:
            loaded = self._load_sentence_index(generation)
        _, index, owners = loaded
        if index is None or index.ntotal == 0:
            return []
        scores, rows = index.search(vector.reshape(1, -1).astype(np.float32), pool * depth)
        best: dict[int, list[float]] = {}
        for row, score in zip(rows[0], scores[0], strict=True):
            if row < 0:
                continue
            top = best.setdefault(int(owners[row]), [])
            if len(top) < 2:
                top.append(float(score))
        ranked = {c: t[0] + decay * (t[1] if len(t) > 1 else 0.0) for c, t in best.items()}
        order = sorted(ranked, key=lambda c: -ranked[c])[:depth]
        return [(c, ranked[c]) for c in order]

    def _load_sentence_index(self, generation: int):
        import faiss

        with self._faiss_lock:
            rows = self.db.execute("SELECT chunk_id, vector FROM sentences").fetchall()
            if rows:
                owners = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float16)
                matrix = matrix.reshape(len(rows), -1).astype(np.float32)
                index = faiss.IndexFlatIP(matrix.shape[1])
                index.add(matrix)
            else:
                owners, index = np.zeros(0, dtype=np.int64), None
            loaded = (generation, index, owners)
            if self._sentence_index is None or self._sentence_index[0] <= generation:
                self._sentence_index = loaded
            return loaded

    def vectors(self, chunk_ids: list[int]) -> np.ndarray:
        """Stored vectors of the given chunks, from this thread's generation (see ``reading``).

        A chunk the generation lacks means the ids came from another generation: a
        caller that did not hold one generation while it collected them.
        """
        generation, index = self._current()
        try:
            if index is None:
                raise RuntimeError("no vectors")
            return index.reconstruct(chunk_ids)
        except RuntimeError as exc:
            raise RagError(
                f"The index in {self.dir} changed while it was read (generation {generation} "
                "lacks some passages): try again."
            ) from exc

    def lexical_search(
        self,
        terms: list[str],
        depth: int,
        title_weight: float = 0.5,
        budget: int = 0,
        also: Iterable[int] = (),
    ) -> list[tuple[int, float]]:
        """BM25 over chunk text and title for any of the ``terms`` (``rag.terms``).

        With a ``budget`` (postings) that the question's terms exceed, only the rarest terms
        whose document frequencies add up to at most the budget are matched (see
        :meth:`prune_terms`), ``RESCORE_POOL`` x ``depth`` passages deep, and those passages
        are ranked by the BM25 of every term (:meth:`bm25_scores`): FTS5 scores every row
        an OR query matches, so the cost of a question grows with the corpus through its
        most common words. ``also`` (the dense side's passages) joins the passages to
        re-score: a passage that matches many common terms but no rare one is found that
        way. A question within the budget runs the plain OR query.
        """
        if not terms:
            return []
        if budget:
            kept = self.prune_terms(terms, budget)
            df = self.document_frequencies(terms)
            known = [t for t in terms if df[t]]
            if kept != known:
                found = self._bm25_match(kept, RESCORE_POOL * depth, title_weight)
                pool = list(dict.fromkeys([i for i, _ in found] + list(also)))
                scores = self.bm25_scores(known, pool, title_weight)
                scores = {i: v for i, v in scores.items() if v > 0}
                order = sorted(scores, key=lambda i: -scores[i])[:depth]
                return [(i, scores[i]) for i in order]
            terms = kept
        return self._bm25_match(terms, depth, title_weight)

    def _bm25_match(
        self, terms: list[str], depth: int, title_weight: float
    ) -> list[tuple[int, float]]:
        if not terms:
            return []
        rows = self.db.execute(
            "SELECT rowid, bm25(chunks_fts, 1.0, ?) AS s FROM chunks_fts WHERE chunks_fts MATCH ?"
            " ORDER BY s LIMIT ?",
            (title_weight, fts_query(terms), depth),
        )
        return [(int(r), -float(s)) for r, s in rows]

    def bm25_scores(
        self, terms: list[str], chunk_ids: list[int], title_weight: float = 0.5
    ) -> dict[int, float]:
        """FTS5's own BM25 (``bm25(chunks_fts, 1.0, title_weight)``, k1 1.2, b 0.75) of the
        OR query of ``terms``, computed for the given chunks only: from their text and
        title tokenized as the index does, their lengths (``chunks_fts_docsize``), the
        corpus averages (``chunks_fts_data``) and the document frequencies. What a full
        query would score them, at the cost of reading those rows, however common the
        terms. A phrase's frequency ("crohn's" -> "crohn s") is its rarest token's."""
        if not chunk_ids:
            return {}
        rows_total, column_totals = self._fts_averages()
        avgdl = sum(column_totals) / max(rows_total, 1)
        df = self.document_frequencies(terms)
        phrases = [(index_tokens(t), df[t]) for t in terms]
        marks = ",".join("?" * len(chunk_ids))
        # The FTS row's text and title are the chunk's text and "title section" (``_insert``,
        # ``_apply_renames``); read from the catalog's B-trees, faster than FTS5's content.
        texts = {
            r[0]: (r[1], " ".join(x for x in (r[2], r[3] or "") if x))
            for r in self.db.execute(
                "SELECT c.chunk_id, c.text, d.title, c.section FROM chunks c"
                f" JOIN documents d USING (doc_key) WHERE c.chunk_id IN ({marks})",
                chunk_ids,
            )
        }
        sizes = {
            r[0]: sum(_varints(r[1]))
            for r in self.db.execute(
                f"SELECT id, sz FROM chunks_fts_docsize WHERE id IN ({marks})", chunk_ids
            )
        }
        ids = [i for i in chunk_ids if i in texts]
        wanted = {t for p, _ in phrases for t in p}
        counts = token_counts([texts[i] for i in ids], wanted)
        weights = (1.0, title_weight)
        out = {}
        for chunk_id, count in zip(ids, counts, strict=True):
            length = sizes.get(chunk_id, 0)
            offsets = None
            score = 0.0
            for tokens, hits in phrases:
                if len(tokens) == 1:
                    freq = sum(weights[col] * count.get((col, tokens[0]), 0) for col in (0, 1))
                elif any(all(count.get((col, t)) for t in tokens) for col in (0, 1)):
                    # A phrase: its words in a row (rare in questions: "crohn's", "5-0").
                    if offsets is None:
                        offsets = token_offsets([texts[chunk_id]], wanted)[0]
                    freq = sum(
                        weights[col] * _phrase_count(offsets, col, tokens)
                        for col in (0, 1)
                        if weights[col]
                    )
                else:
                    freq = 0
                if not freq:
                    continue
                idf = math.log((rows_total - hits + 0.5) / (hits + 0.5))
                idf = idf if idf > 0 else 1e-6
                score += (
                    idf
                    * freq
                    * (BM25_K1 + 1)
                    / (freq + BM25_K1 * (1 - BM25_B + BM25_B * length / avgdl))
                )
            out[chunk_id] = score
        return out

    def passage_count(self) -> int:
        """Passages in the lexical index of this thread's snapshot (one small record)."""
        return self._fts_averages()[0]

    def _fts_averages(self) -> tuple[int, list[int]]:
        """Rows in the FTS5 table and tokens per column: its averages record (id 1)."""
        row = self.db.execute("SELECT block FROM chunks_fts_data WHERE id = 1").fetchone()
        values = _varints(row[0]) if row and row[0] else [0]
        return values[0], values[1:]

    def document_frequencies(self, terms: list[str]) -> dict[str, int]:
        """Passages that hold each term's rarest token, read from the FTS5 vocabulary of
        this thread's snapshot. Cached per generation: the count costs a pass over the
        token's posting list, and only a commit changes it."""
        generation, _ = self._current()
        cache = self._df_cache
        if cache[0] != generation:
            cache = self._df_cache = (generation, {})
        counts = cache[1]
        out = {}
        for term in terms:
            tokens = index_tokens(term)
            for token in tokens:
                if token not in counts:
                    row = self.db.execute(
                        "SELECT doc FROM temp.chunks_vocab WHERE term = ?", (token,)
                    ).fetchone()
                    counts[token] = int(row[0]) if row else 0
            out[term] = min((counts[t] for t in tokens), default=0)
        return out

    def warm_vocabulary(self) -> int:
        """Read every token's document frequency of the current generation at once (one
        pass over the whole FTS5 index: 4 s at 1M passages), so that no question pays for
        counting a common token's postings; returns the number of tokens."""
        try:
            with self.reading():
                generation, _ = self._current()
                counts = dict(self.db.execute("SELECT term, doc FROM temp.chunks_vocab"))
        except sqlite3.Error:  # a damaged catalog: the question that reads it will say so
            return 0
        self._df_cache = (generation, counts)
        return len(counts)

    def prune_terms(self, terms: list[str], budget: int) -> list[str]:
        """The rarest ``terms`` whose document frequencies add up to at most ``budget``,
        in their question order; the rarest one always, and none the index lacks."""
        df = self.document_frequencies(terms)
        kept, total = set(), 0
        for term in sorted((t for t in terms if df[t]), key=lambda t: df[t]):
            if kept and total + df[term] > budget:
                break
            kept.add(term)
            total += df[term]
        return [t for t in terms if t in kept]

    def texts_containing(self, word: str, limit: int = 50) -> list[str]:
        """Texts of chunks that contain ``word`` (for corpus-derived query expansion)."""
        rows = self.db.execute(
            "SELECT text FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?", (f'"{word}"', limit)
        )
        return [r[0] for r in rows]

    def known_share(self, terms: list[str]) -> float:
        """Share of the ``terms`` that occur anywhere in the index."""
        if not terms:
            return 0.0
        known = sum(
            self.db.execute(
                "SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT 1", (f'"{t}"',)
            ).fetchone()
            is not None
            for t in terms
        )
        return known / len(terms)

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

    def sentences(self, chunk_ids: Iterable[int]) -> dict[int, list[tuple[int, int, np.ndarray]]]:
        """Precomputed (start, end, vector) of each chunk's sentences, where the index has them."""
        ids = list(chunk_ids)
        out: dict[int, list[tuple[int, int, np.ndarray]]] = {}
        if not ids:
            return out
        rows = self.db.execute(
            f"SELECT chunk_id, start, end, vector FROM sentences"
            f" WHERE chunk_id IN ({','.join('?' * len(ids))}) ORDER BY chunk_id, start",
            ids,
        )
        for chunk_id, start, end, blob in rows:
            vector = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
            out.setdefault(chunk_id, []).append((start, end, vector))
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

    def faiss_ids(self) -> set[int]:
        """Every live id in the loaded FAISS index (for consistency checks)."""
        _, index = self._current()
        if index is None:
            return set()
        return set(index.ids().tolist())

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


DOC_COLUMNS = "d.doc_id, d.source, d.title, d.authors, d.journal, d.year, d.doi, d.pmid"


def doc_info(row) -> DocInfo:
    return DocInfo(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6], row[7])


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _varints(blob: bytes) -> list[int]:
    """SQLite varints (as FTS5 writes its averages and document sizes)."""
    out, i = [], 0
    while i < len(blob):
        value = 0
        for j in range(9):
            byte = blob[i]
            i += 1
            if j == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        out.append(value)
    return out


def _phrase_count(offsets: dict[tuple[int, str], list[int]], col: int, tokens) -> int:
    """Occurrences of the phrase ``tokens`` (consecutive offsets) in one column."""
    first = offsets.get((col, tokens[0]), [])
    if len(tokens) == 1:
        return len(first)
    rest = [set(offsets.get((col, t), ())) for t in tokens[1:]]
    return sum(all(o + k + 1 in r for k, r in enumerate(rest)) for o in first)


def faiss_path(index_dir: Path, generation: int) -> Path:
    return index_dir / f"vectors.{generation}.faiss"


@dataclass
class StoredDoc:
    """What a sync needs to know of an indexed document without reading its chunks."""

    doc_id: str
    source: str
    sha256: str
    line_keys: list[str]
    # The line keys that were dropped as cross-document repeats when it was cleaned.
    common_keys: list[str] = field(default_factory=list)
    info: DocInfo | None = None


class Writer:
    """The single writer: stage document removals and additions, then ``commit`` once."""

    def __init__(self, index_dir: Path, manifest: Manifest, rebuild: bool = False):
        self.dir = Path(index_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.manifest = manifest
        self._lock_file = open(self.dir / LOCK, "a+")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock_file.seek(0)
            holder = self._lock_file.read().strip() or "another process"
            self._lock_file.close()
            raise RagError(
                f"The index in {self.dir} is being written by {holder}; wait for it to finish."
            ) from exc
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(f"pid {os.getpid()}")
        self._lock_file.flush()
        self.db = connect(self.dir / CATALOG)
        try:
            self._open(manifest, rebuild)
        except BaseException:
            self.close()  # a refused writer must not keep the lock while it is collected
            raise
        self._removals: list[str] = []
        self._additions: list[tuple[Document, list[Chunk], np.ndarray, list[str], list, list]] = []
        self._renames: list[tuple[str, Document]] = []
        self._cards: list[tuple[str, list[CaseCard], str]] = []

    def _open(self, manifest: Manifest, rebuild: bool) -> None:
        self.db.executescript(SCHEMA + CARDS_SCHEMA)
        self._migrate()
        values = dict(self.db.execute("SELECT key, value FROM manifest"))
        self.generation = int(values.get("generation", 0))
        if "manifest" in values and not rebuild:
            stored = Manifest(**json.loads(values["manifest"]))
            manifest.check(stored, self.dir)
            manifest.check_backend(stored, self.dir)
            if not manifest.same_chunking(stored):
                raise RagError(
                    f"The index in {self.dir} was chunked with other settings "
                    f"({stored.chunk_tokens}/{stored.overlap_tokens} tokens, prefix "
                    f"{stored.embed_prefix}): run `rag index --rebuild` to apply the new ones."
                )
        self.rebuild = rebuild or "manifest" not in values
        self._remove_orphans()

    def _migrate(self) -> None:
        """Columns added since schema 1 (older indexes stay readable without a rebuild)."""
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(documents)")}
        if "common_keys" not in columns:
            self.db.execute(
                "ALTER TABLE documents ADD COLUMN common_keys TEXT NOT NULL DEFAULT '[]'"
            )

    def _remove_orphans(self) -> None:
        """Files of generations that never committed (a crashed writer), and old ones."""
        for path in self.dir.glob("vectors.*"):
            m = re.fullmatch(r"vectors\.(\d+)\.faiss", path.name)
            if m is None or int(m.group(1)) > self.generation:
                path.unlink(missing_ok=True)

    def stored_documents(self) -> dict[str, StoredDoc]:
        """Indexed documents by content hash (empty when rebuilding)."""
        if self.rebuild:
            return {}
        rows = self.db.execute(
            f"SELECT d.sha256, d.line_keys, d.common_keys, {DOC_COLUMNS} FROM documents d"
        )
        return {
            r[0]: StoredDoc(r[3], r[4], r[0], json.loads(r[1]), json.loads(r[2]), doc_info(r[3:]))
            for r in rows
        }

    def remove(self, doc_id: str) -> None:
        self._removals.append(doc_id)

    def add(
        self,
        doc: Document,
        chunks: list[Chunk],
        vectors: np.ndarray,
        line_keys: Iterable[str] = (),
        sentences: list[list[tuple[int, int, np.ndarray]]] | None = None,
        common_keys: Iterable[str] = (),
    ) -> None:
        """Stage a document; ``sentences`` holds (start, end, vector) per chunk, if embedded.

        ``line_keys`` are the fingerprints of its raw lines and ``common_keys`` those of
        them that were dropped as repeated across documents (see ``rag.indexing``).
        """
        self._additions.append(
            (doc, chunks, vectors, sorted(line_keys), sentences or [], sorted(common_keys))
        )

    @property
    def removing(self) -> set[str]:
        """Documents staged for removal."""
        return set(self._removals)

    def set_cards(self, doc_id: str, cards: list[CaseCard], reader: str) -> None:
        """Stage a document's case cards (none: it presents no patient), read by ``reader``."""
        self._cards.append((doc_id, cards, reader))

    def update_source(self, old_doc_id: str, doc: Document) -> None:
        """A renamed or re-described file whose content is unchanged: no re-embedding."""
        self._renames.append((old_doc_id, doc))

    def commit(self) -> int:
        """Apply staged changes as one new generation; returns the generation number.

        Nothing staged (a re-sync of an unchanged corpus) writes nothing: copying the
        vector file to a new generation would cost gigabytes at scale for no change.
        """
        nothing = not (self._removals or self._additions or self._renames)
        if nothing and not self.rebuild and self.generation > 0:
            if self._cards:  # cards alone change no vector: no new generation
                with _transaction(self.db):
                    write_cards(self.db, self._cards)
                self._cards.clear()
            return self.generation
        previous = faiss_path(self.dir, self.generation)
        if self.rebuild or self.generation == 0:
            current = None
        elif previous.exists():
            current = VectorIndex.read(previous)
        else:
            raise RagError(
                f"The index in {self.dir} names {previous.name}, which is missing: "
                f"rebuild it with `rag index --rebuild --index {self.dir}`."
            )
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if self.rebuild:
                db.execute("DELETE FROM chunks_fts")
                db.execute("DELETE FROM sentences")
                db.execute("DELETE FROM chunks")
                db.execute("DELETE FROM documents")
            removed = self._apply_removals(db)
            if removed and current is not None:
                current.remove(removed)
            self._apply_renames(db)
            new_ids: list[np.ndarray] = []
            new_vectors: list[np.ndarray] = []
            for doc, chunks, vectors, line_keys, sentences, common in self._additions:
                ids = self._insert(db, doc, chunks, line_keys, now, common)
                db.executemany(
                    "INSERT INTO sentences VALUES (?,?,?,?)",
                    [
                        (chunk_id, a, b, v.astype(np.float16).tobytes())
                        for chunk_id, rows in zip(ids, sentences, strict=False)
                        for a, b, v in rows
                    ],
                )
                if len(ids):
                    new_ids.append(np.array(ids, dtype=np.int64))
                    new_vectors.append(vectors)
            write_cards(db, self._cards)
            # One add: the type is chosen for the final size (and IVF-PQ trains on all of it).
            added = sum(len(i) for i in new_ids)
            index = prepare(
                current,
                self.manifest.dimension,
                (len(current) if current is not None else 0) + added,
                self.manifest.index_type,
            )
            if added:
                index.add(np.vstack(new_vectors), np.concatenate(new_ids))
            generation = self.generation + 1
            target = faiss_path(self.dir, generation)
            tmp = target.with_suffix(".tmp")
            index.write(tmp)
            _fsync(tmp)
            os.replace(tmp, target)
            _fsync(self.dir)
            meta = {
                "manifest": json.dumps(self.manifest.__dict__),
                "generation": str(generation),
                "built_at": now,
            }
            db.executemany("INSERT OR REPLACE INTO manifest VALUES (?, ?)", meta.items())
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        old = self.generation
        self.generation = generation
        # Keep the previous file a moment for readers that read the old generation number.
        for path in self.dir.glob("vectors.*.faiss"):
            if int(path.name.split(".")[1]) < old:
                path.unlink(missing_ok=True)
        self._removals.clear()
        self._additions.clear()
        self._renames.clear()
        self._cards.clear()
        self.rebuild = False
        return generation

    def _apply_removals(self, db: sqlite3.Connection) -> set[int]:
        removed: set[int] = set()
        for doc_id in self._removals:
            ids = [
                r[0]
                for r in db.execute(
                    "SELECT chunk_id FROM chunks JOIN documents USING (doc_key) WHERE doc_id=?",
                    (doc_id,),
                )
            ]
            removed.update(ids)
            db.executemany("DELETE FROM chunks_fts WHERE rowid=?", [(i,) for i in ids])
            db.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))
        return removed

    def _apply_renames(self, db: sqlite3.Connection) -> None:
        """New ids, sources and metadata of unchanged documents; the FTS titles follow.

        Ids move in two steps (first to a placeholder) so that two files swapping names
        never collide on the unique ``doc_id``.
        """
        keys = []
        for old_doc_id, _ in self._renames:
            row = db.execute("SELECT doc_key FROM documents WHERE doc_id=?", (old_doc_id,))
            keys.append(row.fetchone()[0])
            db.execute(
                "UPDATE documents SET doc_id=? WHERE doc_key=?", (f"\x00{keys[-1]}", keys[-1])
            )
        for doc_key, (_, doc) in zip(keys, self._renames, strict=True):
            db.execute(
                "UPDATE documents SET doc_id=?, source=?, title=?, authors=?, journal=?,"
                " year=?, doi=?, pmid=? WHERE doc_key=?",
                (*_doc_fields(doc)[:2], *_doc_fields(doc)[3:], doc_key),
            )
            rows = db.execute("SELECT chunk_id, section FROM chunks WHERE doc_key=?", (doc_key,))
            db.executemany(
                "UPDATE chunks_fts SET title=? WHERE rowid=?",
                [(" ".join(x for x in (doc.title, sec or "") if x), cid) for cid, sec in rows],
            )

    def _insert(
        self, db, doc: Document, chunks: list[Chunk], line_keys, now: str, common_keys=()
    ) -> list[int]:
        cur = db.execute(
            "INSERT INTO documents (doc_id, source, sha256, title, authors, journal, year, doi,"
            " pmid, line_keys, indexed_at, common_keys) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (*_doc_fields(doc), json.dumps(line_keys), now, json.dumps(sorted(common_keys))),
        )
        doc_key = cur.lastrowid
        ids = []
        for c in chunks:
            cur = db.execute(
                "INSERT INTO chunks (doc_key, ordinal, section, page_start, page_end, char_start,"
                " char_end, n_tokens, text) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    doc_key,
                    c.ordinal,
                    c.section,
                    c.page_start,
                    c.page_end,
                    c.char_start,
                    c.char_end,
                    c.n_tokens,
                    c.text,
                ),
            )
            c.chunk_id = cur.lastrowid
            ids.append(c.chunk_id)
            title = " ".join(x for x in (doc.title, c.section or "") if x)
            db.execute(
                "INSERT INTO chunks_fts (rowid, text, title) VALUES (?,?,?)",
                (c.chunk_id, c.text, title),
            )
        return ids

    def close(self) -> None:
        self.db.close()
        fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._lock_file.close()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _doc_fields(doc: Document) -> tuple:
    return (
        doc.doc_id,
        doc.source,
        doc.sha256,
        doc.title,
        json.dumps(doc.authors),
        doc.journal,
        doc.year,
        doc.doi,
        doc.pmid,
    )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def open_writer(index_dir: Path, manifest: Manifest, rebuild: bool = False) -> Iterator[Writer]:
    writer = Writer(index_dir, manifest, rebuild)
    try:
        yield writer
    finally:
        writer.close()
