"""The catalog's schema and the plumbing every reader and writer of it shares.

``SCHEMA`` is created by the writer (``rag.store.writer``); readers only open it. Columns
added since schema 1 are migrated by the writer, so older indexes stay readable.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from rag.documents import DocInfo
from rag.terms import FTS_TOKENIZE

SCHEMA_VERSION = 1
CATALOG = "catalog.sqlite"
LOCK = "write.lock"

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


DOC_COLUMNS = "d.doc_id, d.source, d.title, d.authors, d.journal, d.year, d.doi, d.pmid"


def fts_title(title: str | None, section: str | None) -> str:
    """The FTS row's title column: the document's title and the chunk's section. Written
    by the writer and read back by the BM25 re-scoring, which must see the same string."""
    return " ".join(x for x in (title, section or "") if x)


def doc_info(row) -> DocInfo:
    return DocInfo(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6], row[7])


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def faiss_path(index_dir: Path, generation: int) -> Path:
    return index_dir / f"vectors.{generation}.faiss"


def fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
