"""The index on disk: an SQLite catalog (documents, chunks, FTS5) beside a FAISS file.

Crash safety: a write builds ``vectors.<generation>.faiss`` beside the current file,
then commits, in one SQLite transaction, the catalog changes together with the new
generation number. A crash before the commit leaves the old generation in force (the
orphan file is removed by the next writer); readers always load the generation the
catalog names. One writer at a time holds an ``flock`` on ``write.lock``; the kernel
releases it when the writer dies, so a stale lock cannot block the next run.
"""

from rag.store.catalog import CATALOG, faiss_path
from rag.store.lexical import BM25_B, BM25_K1
from rag.store.reader import Store
from rag.store.spec import IndexSpec
from rag.store.writer import StagedDoc, StoredDoc, Writer, open_writer

__all__ = [
    "BM25_B",
    "BM25_K1",
    "CATALOG",
    "IndexSpec",
    "Store",
    "StagedDoc",
    "StoredDoc",
    "Writer",
    "faiss_path",
    "open_writer",
]
