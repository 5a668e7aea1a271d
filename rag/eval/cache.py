"""Indexes built for evaluation, kept under ``eval/cache/`` and reused while they match.

- ``cached_index``: a BEIR folder's corpus, indexed directly as Documents through the same
  chunker, embedder and store writer that ``rag index`` uses, into
  ``eval/cache/<name>-<key>/``; the key hashes the corpus bytes and everything that changes
  the built index, so a second run with the same settings opens the cache instead of
  embedding again.
- ``corpus_index``: one or more folders of files (``eval/cache/corpus-<key>/``), kept in
  step with the folders by ``rag.indexing.sync`` on each use; what chunking ablations and
  the case-card evaluation use, leaving ``index/`` alone.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from rag.chunking import TokenCounter
from rag.config import PROJECT_ROOT, Settings
from rag.documents import Document
from rag.embedding import Embedder, embedder_for
from rag.errors import RagError
from rag.eval.beir import CONVERSION_VERSION, BeirDataset
from rag.indexing import sync
from rag.ingest import READING_RULES
from rag.staging import Progress, embed_staged, index_spec, stage
from rag.store import CATALOG, Writer

DEFAULT_CACHE = PROJECT_ROOT / "eval" / "cache"
READY = "dataset.json"  # written after the index commits: its presence means "complete"
EMBED_BATCH_DOCS = 256  # documents embedded per call: progress granularity, bounded memory
CACHE_LOCK_WAIT = 900.0  # seconds a corpus cache's sync waits for another evaluation's sync


def index_key(corpus_path: Path, settings: Settings) -> str:
    """Hash of the corpus bytes and of the ``IndexSpec`` (what changes the built index)."""
    digest = hashlib.sha256()
    with open(corpus_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    digest.update(index_spec(settings.index).fingerprint(conversion=CONVERSION_VERSION).encode())
    return digest.hexdigest()[:16]


def cached_index(
    dataset: BeirDataset,
    settings: Settings,
    embedder: Embedder | None = None,
    cache_root: Path | None = None,
    progress: Progress | None = None,
) -> Settings:
    """Settings pointing at an index of the dataset's corpus, built only when not cached."""
    folder = Path(cache_root or DEFAULT_CACHE) / (
        f"{dataset.name}-{index_key(dataset.corpus_path, settings)}"
    )
    indexed = replace(settings, index_dir=folder)
    if (folder / READY).exists() and (folder / CATALOG).exists():
        return indexed
    started = time.perf_counter()
    documents, chunks = index_documents(dataset.documents(), indexed, embedder, progress)
    (folder / READY).write_text(
        json.dumps(
            {
                "corpus": str(dataset.corpus_path.resolve()),
                "documents": documents,
                "chunks": chunks,
                "chunk_tokens": settings.chunk_tokens,
                "overlap_tokens": settings.overlap_tokens,
                "seconds": round(time.perf_counter() - started, 1),
            },
            indent=2,
        )
    )
    return indexed


def index_documents(
    documents: Iterator[Document] | list[Document],
    settings: Settings,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Index already-loaded Documents into ``settings.index_dir`` (replacing its content).

    The same building blocks as ``rag.indexing.sync`` (``rag.staging``, Writer),
    minus file discovery and cleaning: BEIR records are already clean text.
    """
    embedder = embedder or embedder_for(settings.index)
    spec = index_spec(settings.index, embedder.backend)
    counter = TokenCounter(settings.model_path)
    staged = [stage(doc, spec, counter) for doc in documents]
    total = sum(len(s.chunks) for s in staged)
    done = 0
    with Writer(settings.index_dir, spec, rebuild=True) as writer:
        for start in range(0, len(staged), EMBED_BATCH_DOCS):
            if progress:
                progress("embedding", done, total)
            batch = staged[start : start + EMBED_BATCH_DOCS]
            embed_staged(batch, spec, embedder)
            for s in batch:
                writer.add(s)
                done += len(s.chunks)
        if progress:
            progress("embedding", done, total)
        writer.commit()
    return len(staged), total


def corpus_index(
    corpus: Path | list[Path],
    settings: Settings,
    cache_root: Path | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> Settings:
    """Settings for an index of ``corpus`` (one folder or several) cached per chunking and
    model, synced on each use."""
    folders = [Path(c) for c in (corpus if isinstance(corpus, list) else [corpus])]
    for folder in folders:
        if not folder.is_dir():
            raise RagError(f"{folder}: no such folder")
    # The folders name the cache, beside the spec and the reading rules: they are synced,
    # not hashed, and a file's text changes with the rules that read it.
    key = index_spec(settings.index).key(
        corpus=[str(f.resolve()) for f in folders], reading=READING_RULES
    )
    folder = Path(cache_root or DEFAULT_CACHE) / f"corpus-{key}"
    indexed = replace(settings, index_dir=folder, corpus_dir=folders[0])
    # Two evaluations of one corpus at once: the second waits for the first's sync and then
    # finds the cache current, instead of failing on the writer lock.
    report = sync(folders, indexed, embedder=embedder, progress=progress, wait=CACHE_LOCK_WAIT)
    if report.failed and not report.documents:
        raise RagError(f"{folders[0]}: nothing could be indexed ({report.failed[0][1]})")
    return indexed
