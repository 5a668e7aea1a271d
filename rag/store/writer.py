"""The single writer of an index: stage removals, additions, renames and cards, then
commit them as one new generation (see ``rag.store`` for the crash-safety argument)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.card_store import CARDS_SCHEMA, write_cards
from rag.documents import CaseCard, Chunk, DocInfo, Document
from rag.errors import RagError
from rag.store.catalog import (
    CATALOG,
    DOC_COLUMNS,
    LOCK,
    SCHEMA,
    connect,
    doc_info,
    faiss_path,
    fsync,
    fts_title,
    transaction,
)
from rag.store.spec import IndexSpec
from rag.vector_index import VectorIndex, prepare

LOCK_POLL = 0.2  # seconds between tries while a writer waits for another to finish


@dataclass
class StagedDoc:
    """A document on its way into the index: its chunks and, once embedded, their vectors
    and each chunk's quotable sentences as (start, end, vector).

    ``line_keys`` are the fingerprints of its raw lines and ``common_keys`` those of them
    that were dropped as repeated across documents (see ``rag.indexing``).
    """

    doc: Document
    chunks: list[Chunk]
    line_keys: set[str] = field(default_factory=set)
    common_keys: set[str] = field(default_factory=set)
    vectors: np.ndarray | None = None
    sentences: list[list[tuple[int, int, np.ndarray]]] = field(default_factory=list)


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

    def __init__(
        self, index_dir: Path, manifest: IndexSpec, rebuild: bool = False, wait: float = 0.0
    ):
        """``wait``: seconds to wait for another writer to finish (0: refuse at once, as
        ``rag index`` does; an evaluation cache waits, since the other writer is syncing
        the same folders and leaves nothing to do)."""
        self.dir = Path(index_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.manifest = manifest
        self._lock_file = open(self.dir / LOCK, "a+")  # noqa: SIM115 (held until close)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() < deadline:
                    time.sleep(LOCK_POLL)
                    continue
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
        self._additions: list[StagedDoc] = []
        self._renames: list[tuple[str, Document]] = []
        self._cards: list[tuple[str, list[CaseCard], str]] = []

    def _open(self, manifest: IndexSpec, rebuild: bool) -> None:
        self.db.executescript(SCHEMA + CARDS_SCHEMA)
        self._migrate()
        values = dict(self.db.execute("SELECT key, value FROM manifest"))
        self.generation = int(values.get("generation", 0))
        if "manifest" in values and not rebuild:
            stored = IndexSpec.from_json(values["manifest"])
            manifest.check(stored, self.dir, writing=True)
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

    def add(self, staged: StagedDoc) -> None:
        """Stage an embedded document (``rag.staging.embed_staged`` gave it its vectors)."""
        self._additions.append(staged)

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
                with transaction(self.db):
                    write_cards(self.db, self._cards)
                self._cards.clear()
            return self.generation
        current = self._current_vectors()
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            new_ids, new_vectors = self._apply_staged(db, current, now)
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
            self._write_generation(index, generation)
            meta = {
                "manifest": self.manifest.to_json(),
                "generation": str(generation),
                "built_at": now,
            }
            db.executemany("INSERT OR REPLACE INTO manifest VALUES (?, ?)", meta.items())
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._committed(generation)
        return generation

    def _current_vectors(self) -> VectorIndex | None:
        """The committed generation's vectors to build on (none when rebuilding)."""
        previous = faiss_path(self.dir, self.generation)
        if self.rebuild or self.generation == 0:
            return None
        if previous.exists():
            return VectorIndex.read(previous)
        raise RagError(
            f"The index in {self.dir} names {previous.name}, which is missing: "
            f"rebuild it with `rag index --rebuild --index {self.dir}`."
        )

    def _apply_staged(
        self, db: sqlite3.Connection, current: VectorIndex | None, now: str
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Write the staged catalog changes inside the open transaction; returns the new
        chunk ids and their vectors, for the next FAISS generation."""
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
        for staged in self._additions:
            ids = self._insert(db, staged, now)
            vectors, sentences = staged.vectors, staged.sentences
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
        return new_ids, new_vectors

    def _write_generation(self, index: VectorIndex, generation: int) -> None:
        """The generation's FAISS file, written beside the current one and made durable
        before the catalog names it."""
        target = faiss_path(self.dir, generation)
        tmp = target.with_suffix(".tmp")
        index.write(tmp)
        fsync(tmp)
        os.replace(tmp, target)
        fsync(self.dir)

    def _committed(self, generation: int) -> None:
        """After the commit: the previous-but-one files go, and the staging is emptied."""
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
            fields = _doc_fields(doc)  # sha256 (the third) stays: a rename is the same file
            db.execute(
                "UPDATE documents SET doc_id=?, source=?, title=?, authors=?, journal=?,"
                " year=?, doi=?, pmid=? WHERE doc_key=?",
                (*fields[:2], *fields[3:], doc_key),
            )
            rows = db.execute("SELECT chunk_id, section FROM chunks WHERE doc_key=?", (doc_key,))
            db.executemany(
                "UPDATE chunks_fts SET title=? WHERE rowid=?",
                [(fts_title(doc.title, sec), cid) for cid, sec in rows],
            )

    def _insert(self, db, staged: StagedDoc, now: str) -> list[int]:
        doc, chunks = staged.doc, staged.chunks
        cur = db.execute(
            "INSERT INTO documents (doc_id, source, sha256, title, authors, journal, year, doi,"
            " pmid, line_keys, indexed_at, common_keys) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                *_doc_fields(doc),
                json.dumps(sorted(staged.line_keys)),
                now,
                json.dumps(sorted(staged.common_keys)),
            ),
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
            db.execute(
                "INSERT INTO chunks_fts (rowid, text, title) VALUES (?,?,?)",
                (c.chunk_id, c.text, fts_title(doc.title, c.section)),
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


@contextlib.contextmanager
def open_writer(index_dir: Path, manifest: IndexSpec, rebuild: bool = False) -> Iterator[Writer]:
    writer = Writer(index_dir, manifest, rebuild)
    try:
        yield writer
    finally:
        writer.close()
