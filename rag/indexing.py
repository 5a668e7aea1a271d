"""Sync an index with a corpus: only new or changed files are embedded.

Files are matched to the catalog by content hash, so an unchanged file is never
re-read past hashing and a renamed one is not re-embedded. A bad file is reported
with its reason and skipped; the same article under a second name or in a second
format (same bytes, DOI, PMID, title, or near-identical text) is indexed once.
Everything else is committed as one new generation.

Site chrome is partly judged by lines repeated across documents, so a document's
cleaning depends on the rest of the corpus; when that changes what is repeated in an
already indexed document (a second page from the same site arrives, or leaves), that
document is cleaned and embedded again ("recleaned").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rag.cards import FieldReader, stage_cards
from rag.chunking import TokenCounter
from rag.config import Settings
from rag.documents import Document, Metadata, Section
from rag.embedding import Embedder, embedder_for
from rag.errors import RagError
from rag.ingest import (
    check_size,
    doc_id_for,
    is_empty,
    load_document,
    merged_metadata,
    read_blocks,
    sha256,
    supported,
)
from rag.ingest.catalog import read_catalog
from rag.ingest.clean import common_line_keys, line_keys
from rag.ingest.files import list_files
from rag.reader.model import reader_for
from rag.same_article import identity, preference, same_article
from rag.staging import Progress, embed_staged, index_spec, stage
from rag.store import IndexSpec, StagedDoc, StoredDoc, Writer

Blocks = tuple[bytes, list[Section], dict]


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # (path, reason): unreadable, unsupported, too large, empty, or a duplicate.
    failed: list[tuple[str, str]] = field(default_factory=list)
    recleaned: list[str] = field(default_factory=list)
    # (path, message): indexed, but read with a doubt the user should know of.
    warnings: list[tuple[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0
    documents: int = 0
    chunks: int = 0
    seconds: float = 0.0


@dataclass
class _Pending:
    """A file to load: new, changed, or indexed but due for cleaning again."""

    path: Path
    digest: str
    blocks: Blocks | None = None
    previous: StoredDoc | None = None  # the indexed document it replaces, if any
    reclean: bool = False
    line_keys: set[str] = field(default_factory=set)  # of its raw lines
    doc_id: str = ""
    staged: StagedDoc | None = None  # once loaded and chunked


def sync(
    paths: list[Path],
    settings: Settings,
    rebuild: bool = False,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    wait: float = 0.0,
) -> SyncReport:
    """Bring the index at ``settings.index_dir`` in line with the files under ``paths``.

    ``progress(stage, done, total)`` is called with the stages "scanning", "reading",
    "embedding" and "committing". ``wait``: seconds to wait for another writer (``Writer``).
    """
    started = time.perf_counter()
    report = SyncReport()
    tell = progress or (lambda stage, done, total: None)
    paths = [p.resolve() for p in paths]
    files = list_files(paths, report.failed)
    catalog: dict[str, dict] = {}
    for folder in {p if p.is_dir() else p.parent for p in paths}:
        catalog.update(read_catalog(folder))
    embedder = embedder or embedder_for(settings.index)  # the model itself loads only if needed
    spec = index_spec(settings.index, embedder.backend)
    with Writer(settings.index_dir, spec, rebuild=rebuild, wait=wait) as writer:
        stored = writer.stored_documents()
        chosen = _hash_files(files, stored, report, tell)
        kept, pending, common = _plan(paths, stored, chosen, catalog, report, tell)
        _assign_ids(chosen, kept, pending, catalog, writer)
        counter = TokenCounter(settings.model_path)
        loaded = _load_and_chunk(pending, catalog, common, spec, counter, report)
        replaced = {p.previous.sha256 for p in loaded if p.previous is not None}
        for digest, old in stored.items():
            if digest not in kept or digest in replaced:
                writer.remove(old.doc_id)
        _report_changes(stored, kept, loaded, report)
        staged = [p.staged for p in loaded]
        embed_staged(staged, spec, embedder, progress)
        report.chunks_embedded = sum(len(s.chunks) for s in staged)
        for s in staged:
            writer.add(s)
        if settings.case_cards:
            reader = FieldReader(reader_for(settings.reader_model), embedder.local())
            stage_cards(writer, [(s.doc, s.chunks) for s in staged], reader, tell)
        tell("committing", 0, 1)
        writer.commit()
        tell("committing", 1, 1)
        report.documents = writer.db.execute("SELECT count(*) FROM documents").fetchone()[0]
        report.chunks = writer.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
    report.seconds = time.perf_counter() - started
    return report


def _plan(
    paths: list[Path],
    stored: dict[str, StoredDoc],
    chosen: dict[str, Path],
    catalog: dict[str, dict],
    report: SyncReport,
    tell: Progress,
) -> tuple[dict[str, StoredDoc], list[_Pending], set[str]]:
    """The indexed documents kept as they are, the files to load (new, changed, or due
    for cleaning again, their blocks read and duplicates dropped), and the line keys
    common across documents."""
    by_source = {d.source: d for d in stored.values()}
    # Documents outside the scanned paths are left alone (``rag index one.pdf`` adds one).
    outside = {h for h, d in stored.items() if not _within(d.source, paths)}
    kept = {h: d for h, d in stored.items() if h in chosen or h in outside}
    pending = [
        _Pending(f, digest, previous=by_source.get(str(f)))
        for digest, f in chosen.items()
        if digest not in stored
    ]
    for item in pending:
        if item.previous is not None and item.previous.sha256 in kept:
            item.previous = None  # its old content lives on under another name
    for n, item in enumerate(pending):
        tell("reading", n, len(pending))
        try:
            item.blocks = read_blocks(item.path)
        except RagError as exc:
            report.failed.append((str(item.path), _reason(exc, item.path)))
            continue
        item.line_keys = line_keys(_raw_text(item.blocks))
    pending = _drop_duplicates([p for p in pending if p.blocks], kept, catalog, report)
    common = common_line_keys(
        [*(p.line_keys for p in pending), *(set(d.line_keys) for d in kept.values())]
    )
    pending += _due_for_cleaning(kept, chosen, common)
    report.unchanged = [str(chosen[h]) for h in kept if h in chosen]
    return kept, pending, common


def _load_and_chunk(
    pending: list[_Pending],
    catalog: dict[str, dict],
    common: set[str],
    spec: IndexSpec,
    counter: TokenCounter,
    report: SyncReport,
) -> list[_Pending]:
    """Load, clean and chunk each pending file; returns those that loaded."""
    for item in pending:
        said: list[str] = []
        try:
            meta = catalog.get(item.path.name)
            doc = load_document(item.path, meta, common, item.blocks, warnings=said)
        except RagError as exc:
            report.failed.append((str(item.path), _reason(exc, item.path)))
            continue
        report.warnings += [(str(item.path), message) for message in said]
        doc.doc_id = item.doc_id
        item.staged = stage(doc, spec, counter, item.line_keys)
        item.staged.common_keys = item.line_keys & common
    return [p for p in pending if p.staged is not None]


def _hash_files(
    files: list[Path], stored: dict[str, StoredDoc], report: SyncReport, tell: Progress
) -> dict[str, Path]:
    """One file per distinct content (the one indexed under its name, if any), by hash."""
    groups: dict[str, list[Path]] = {}
    for n, f in enumerate(files):
        tell("scanning", n, len(files))
        if not supported(f):
            report.failed.append((str(f), f"unsupported format {f.suffix or '(none)'!r}"))
            continue
        try:
            check_size(f, f.stat().st_size)
            data = f.read_bytes()
        except RagError as exc:
            report.failed.append((str(f), _reason(exc, f)))
            continue
        except OSError as exc:
            report.failed.append((str(f), f"cannot read ({exc.strerror})"))
            continue
        if is_empty(data):  # two empty files share a hash, but neither is a duplicate
            report.failed.append((str(f), "the file is empty"))
            continue
        groups.setdefault(sha256(data), []).append(f)
    tell("scanning", len(files), len(files))
    chosen: dict[str, Path] = {}
    for digest, group in groups.items():
        old = stored.get(digest)
        # The one indexed under its name; else the shortest name ("x.pdf", not "x (1).pdf").
        first = min(group, key=lambda f: (len(f.name), str(f)))
        keep = next((f for f in group if old is not None and str(f) == old.source), first)
        chosen[digest] = keep
        for f in group:
            if f != keep:
                report.failed.append((str(f), f"duplicate: same content as {keep.name}"))
    return chosen


def _drop_duplicates(
    pending: list[_Pending],
    kept: dict[str, StoredDoc],
    catalog: dict[str, dict],
    report: SyncReport,
) -> list[_Pending]:
    """New files that are an article already indexed, or already among the new, are skipped."""
    seen = [
        identity(Path(d.source).name, Metadata.of(d.info).as_dict(), d.line_keys)
        for d in kept.values()
        if d.info is not None
    ]
    order = sorted(pending, key=lambda p: (preference(p.path), len(p.path.name), str(p.path)))
    unique: set[Path] = set()
    for item in order:
        meta = merged_metadata(item.blocks[2], catalog.get(item.path.name))
        me = identity(item.path.name, meta, item.line_keys)
        why = next(((other, r) for other in seen if (r := same_article(me, other))), None)
        if why is not None:
            other, reason = why
            report.failed.append((str(item.path), f"duplicate: {reason} as {other.name}"))
            continue
        seen.append(me)
        unique.add(item.path)
    return [p for p in pending if p.path in unique]


def _due_for_cleaning(
    kept: dict[str, StoredDoc],
    chosen: dict[str, Path],
    common: set[str],
) -> list[_Pending]:
    """Indexed documents whose lines repeated elsewhere are no longer what they were.

    A document that also moved this time is left for the next sync (it is renamed now).
    """
    due = []
    for digest, d in kept.items():
        if set(d.line_keys) & common == set(d.common_keys):
            continue
        path = Path(d.source)
        if digest in chosen and chosen[digest] != path:
            continue
        try:
            blocks = read_blocks(path)
        except RagError:
            continue  # it stays as indexed; a later sync retries
        if sha256(blocks[0]) != digest:
            continue
        due.append(_Pending(path, digest, blocks, d, True, set(d.line_keys)))
    return due


def _assign_ids(
    chosen: dict[str, Path],
    kept: dict[str, StoredDoc],
    pending: list[_Pending],
    catalog: dict[str, dict],
    writer: Writer,
) -> None:
    """Doc ids for pending files (``_Pending.doc_id``); unchanged files that moved or were
    re-described get theirs updated in place (no re-embedding). Ids stay unique and, where
    possible, stable.
    """
    used: set[str] = set()
    moved: list[tuple[StoredDoc, Path]] = []
    recleaned = {p.digest for p in pending if p.reclean}
    for digest, old in kept.items():
        f = chosen.get(digest)
        if f is None or str(f) == old.source:
            used.add(old.doc_id)
        else:
            moved.append((old, f))
    for old, f in moved:
        new_id = _unique_id(doc_id_for(f), used)
        used.add(new_id)
        writer.update_source(old.doc_id, _described(old, new_id, f, catalog.get(f.name)))
    for digest, old in kept.items():
        f = chosen.get(digest)
        if digest in recleaned:
            continue  # cleaned again below, with its catalog entry
        if f is not None and str(f) == old.source and catalog.get(f.name):
            doc = _described(old, old.doc_id, f, catalog[f.name])
            if Metadata.of(old.info) != Metadata.of(doc):
                writer.update_source(old.doc_id, doc)
    for item in pending:
        if item.previous is not None and (item.reclean or item.previous.doc_id not in used):
            item.doc_id = item.previous.doc_id
        else:
            item.doc_id = _unique_id(doc_id_for(item.path), used)
        used.add(item.doc_id)


def _described(old: StoredDoc, doc_id: str, f: Path, meta: dict | None) -> Document:
    """The stored description of an unchanged document under its new name and catalog entry."""
    info = Metadata.from_dict(merged_metadata(Metadata.of(old.info).as_dict(), meta))
    return Document(doc_id, str(f), old.sha256, [], **info.fields())


def _report_changes(
    stored: dict[str, StoredDoc],
    kept: dict[str, StoredDoc],
    loaded: list[_Pending],
    report: SyncReport,
) -> None:
    staged_sources = {p.previous.source for p in loaded if p.previous and not p.reclean}
    for item in loaded:
        if item.reclean:
            report.recleaned.append(str(item.path))
        elif item.previous is not None:
            report.updated.append(str(item.path))
        else:
            report.added.append(str(item.path))
    for digest, old in stored.items():
        if digest not in kept and old.source not in staged_sources:
            report.removed.append(old.source)


def _raw_text(blocks: Blocks | None) -> str:
    return "\n".join(s.text for s in blocks[1]) if blocks else ""


def _within(source: str, roots: list[Path]) -> bool:
    path = Path(source)
    return any(path == root or root in path.parents for root in roots)


def _reason(exc: RagError, f: Path) -> str:
    message = str(exc)
    return message.split(": ", 1)[1] if message.startswith(f.name + ": ") else message


def _unique_id(doc_id: str, used: set[str]) -> str:
    candidate, n = doc_id, 2
    while candidate in used:
        candidate, n = f"{doc_id}-{n}", n + 1
    return candidate
