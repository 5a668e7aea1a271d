"""Sync an index with a corpus: only new or changed files are embedded.

Files are matched to the catalog by content hash, so an unchanged file is never
re-read past hashing and a renamed one is not re-embedded. A bad file is reported
with its reason and skipped; everything else is committed as one new generation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.chunking import TokenCounter, chunk_document, embed_prefix, quotable_sentences
from rag.config import Settings
from rag.documents import Chunk, Document
from rag.embedding import Embedder, model_dimension, model_id
from rag.errors import RagError
from rag.ingest import doc_id_for, load_document, read_blocks, sha256, supported
from rag.ingest.catalog import CATALOG_NAME, read_catalog
from rag.ingest.clean import common_line_keys, line_keys
from rag.store import Manifest, Writer

Progress = Callable[[str, int, int], None]


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0
    documents: int = 0
    chunks: int = 0
    seconds: float = 0.0


def manifest_for(settings: Settings) -> Manifest:
    path = settings.model_path
    return Manifest(
        model_id=model_id(path),
        dimension=model_dimension(path),
        chunk_tokens=settings.chunk_tokens,
        overlap_tokens=settings.overlap_tokens,
        embed_prefix=settings.embed_prefix,
    )


def list_files(paths: Iterable[Path]) -> list[Path]:
    """Every file under the given paths (hidden files and the metadata catalog aside)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                if f.is_file() and not f.name.startswith(".") and f.name != CATALOG_NAME:
                    files.append(f)
        elif path.is_file():
            files.append(path)
        else:
            raise RagError(f"{path}: no such file or folder")
    return files


def chunk_texts_for_embedding(doc: Document, chunks: list[Chunk], settings: Settings) -> list[str]:
    if not settings.embed_prefix:
        return [c.text for c in chunks]
    return [embed_prefix(doc.title, c.section) + c.text for c in chunks]


def sync(
    paths: list[Path],
    settings: Settings,
    rebuild: bool = False,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """Bring the index at ``settings.index_dir`` in line with the files under ``paths``."""
    started = time.perf_counter()
    report = SyncReport()
    paths = [p.resolve() for p in paths]
    files = list_files(paths)
    catalog: dict[str, dict] = {}
    for folder in {p if p.is_dir() else p.parent for p in paths}:
        catalog.update(read_catalog(folder))
    manifest = manifest_for(settings)
    with Writer(settings.index_dir, manifest, rebuild=rebuild) as writer:
        stored = writer.stored_documents()
        by_source = {d.source: d for d in stored.values()}
        seen_hashes: dict[str, str] = {}
        pending: list[tuple[Path, str, tuple]] = []
        for f in files:
            if not supported(f):
                report.failed.append((str(f), f"unsupported format {f.suffix or '(none)'!r}"))
                continue
            try:
                digest = sha256(f.read_bytes())
            except OSError as exc:
                report.failed.append((str(f), f"cannot read ({exc.strerror})"))
                continue
            if digest in seen_hashes:
                report.failed.append((str(f), f"same content as {seen_hashes[digest]}; skipped"))
                continue
            seen_hashes[digest] = str(f)
            old = stored.get(digest)
            if old is not None:
                report.unchanged.append(str(f))
                meta = catalog.get(f.name, {})
                if old.source != str(f) or meta:
                    # Cheap metadata/location refresh; the content and vectors stay.
                    doc = Document(
                        old.doc_id if old.source == str(f) else doc_id_for(f), str(f), digest, []
                    )
                    _apply_meta(doc, meta)
                    writer.update_source(old.doc_id, doc)
                continue
            pending.append((f, digest, ()))
        # Documents outside the scanned paths are left alone (``rag index one.pdf`` adds one).
        present = set(seen_hashes) | {h for h, d in stored.items() if not _within(d.source, paths)}
        for digest, old in stored.items():
            if digest not in present:
                writer.remove(old.doc_id)
                if old.source in {str(p) for p, _, _ in pending}:
                    report.updated.append(old.source)
                else:
                    report.removed.append(old.source)
        # Load new/changed files; site chrome is judged with the whole corpus's lines.
        raws: list[tuple[Path, tuple]] = []
        for f, _digest, _ in pending:
            try:
                raws.append((f, read_blocks(f)))
            except RagError as exc:
                report.failed.append((str(f), _reason(exc, f)))
        line_sets = [line_keys("\n".join(s.text for s in blocks[1])) for _, blocks in raws]
        line_sets += [set(d.line_keys) for h, d in stored.items() if h in present]
        common = common_line_keys(line_sets)
        counter = TokenCounter(settings.model_path)
        used_ids = {d.doc_id for h, d in stored.items() if h in present}
        staged: list[tuple[Document, list[Chunk], set[str]]] = []
        for (f, blocks), keys in zip(raws, line_sets, strict=False):
            try:
                doc = load_document(f, catalog.get(f.name), common, blocks=blocks)
            except RagError as exc:
                report.failed.append((str(f), _reason(exc, f)))
                continue
            doc.doc_id = _unique_id(doc.doc_id, used_ids, by_source.get(str(f)))
            used_ids.add(doc.doc_id)
            chunks = chunk_document(
                doc, counter, settings.chunk_tokens, settings.overlap_tokens, settings.embed_prefix
            )
            staged.append((doc, chunks, keys))
            if str(f) not in report.updated:
                report.added.append(str(f))
        vectors, sentence_rows = embed_staged(staged, settings, embedder, progress)
        report.chunks_embedded = sum(len(chunks) for _, chunks, _ in staged)
        start = 0
        for doc, chunks, keys in staged:
            end = start + len(chunks)
            writer.add(doc, chunks, vectors[start:end], keys, sentence_rows[start:end])
            start = end
        writer.commit()
        report.documents = writer.db.execute("SELECT count(*) FROM documents").fetchone()[0]
        report.chunks = writer.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
    report.seconds = time.perf_counter() - started
    return report


def embed_staged(
    staged: list[tuple[Document, list[Chunk], set[str]]],
    settings: Settings,
    embedder: Embedder | None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, list[list[tuple[int, int, np.ndarray]]]]:
    """Chunk vectors, and per chunk its quotable sentences' (start, end, vector).

    Chunks and sentences go through the model in one call (it sorts by length, so
    short sentences batch together); a sentence repeated by chunk overlap is embedded once.
    """
    chunks = [c for _, cs, _ in staged for c in cs]
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32), []
    texts = [t for doc, cs, _ in staged for t in chunk_texts_for_embedding(doc, cs, settings)]
    spans = [quotable_sentences(c.text) if settings.sentence_vectors else [] for c in chunks]
    sentences = [[c.text[s.start : s.end] for s in ss] for c, ss in zip(chunks, spans, strict=True)]
    unique = list(dict.fromkeys(t for ts in sentences for t in ts))
    embedder = embedder or Embedder(settings.model_path, settings.device, settings.batch_size)
    if progress:
        progress("embedding", 0, len(texts) + len(unique))
    encoded = embedder.encode(texts + unique)
    by_text = dict(zip(unique, encoded[len(texts) :], strict=True))
    rows = [
        [(s.start, s.end, by_text[t]) for s, t in zip(ss, ts, strict=True)]
        for ss, ts in zip(spans, sentences, strict=True)
    ]
    return encoded[: len(texts)], rows


def _within(source: str, roots: list[Path]) -> bool:
    path = Path(source)
    return any(path == root or root in path.parents for root in roots)


def _reason(exc: RagError, f: Path) -> str:
    message = str(exc)
    return message.split(": ", 1)[1] if message.startswith(f.name + ": ") else message


def _apply_meta(doc: Document, meta: dict) -> None:
    doc.title = meta.get("title") or ""
    doc.authors = list(meta.get("authors") or [])
    doc.journal = meta.get("journal") or ""
    doc.year = int(meta["year"]) if meta.get("year") else None
    doc.doi = meta.get("doi") or ""
    doc.pmid = str(meta.get("pmid") or "")


def _unique_id(doc_id: str, used: set[str], previous) -> str:
    if previous is not None and previous.doc_id not in used:
        return previous.doc_id
    candidate, n = doc_id, 2
    while candidate in used:
        candidate, n = f"{doc_id}-{n}", n + 1
    return candidate
