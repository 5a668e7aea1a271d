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

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.cards import stage_cards
from rag.chunking import TokenCounter, chunk_document, embed_prefix, quotable_sentences
from rag.config import Settings
from rag.documents import Chunk, DocInfo, Document, Section
from rag.embedding import Embedder, embedder_for, model_dimension, model_id
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
from rag.ingest.catalog import CATALOG_NAME, read_catalog
from rag.ingest.clean import common_line_keys, line_keys
from rag.reader.model import reader_for
from rag.store import Manifest, StoredDoc, Writer

Progress = Callable[[str, int, int], None]
Blocks = tuple[bytes, list[Section], dict]
# When the same article arrives in several formats at once, the first of these wins.
FORMAT_PREFERENCE = (".nxml", ".xml", ".pdf", ".html", ".htm", ".md", ".txt")
EMBED_BATCH = 256  # texts per model call when reporting progress
MIN_TITLE_WORDS = 5  # shorter titles ("Case report") say nothing about identity
LONG_LINE_WORDS = 8  # lines this long are article prose, not chrome, for near-duplicates


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


def manifest_for(settings: Settings, backend: str | None = None) -> Manifest:
    """What an index built with these settings (and this embedding backend) records."""
    path = settings.model_path
    return Manifest(
        model_id=model_id(path),
        dimension=model_dimension(path),
        chunk_tokens=settings.chunk_tokens,
        overlap_tokens=settings.overlap_tokens,
        embed_prefix=settings.embed_prefix,
        index_type=settings.index_type,
        backend=backend or settings.backend,
    )


def list_files(paths: Iterable[Path], skipped: list[tuple[str, str]] | None = None) -> list[Path]:
    """Every file under the given paths (hidden files and the metadata catalog aside).

    Only the folder itself is read: a link in it that points out of it (to a file
    elsewhere, a system file) is not followed but added to ``skipped`` with the reason.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            root = path.resolve()
            for f in sorted(path.rglob("*")):
                if f.name.startswith(".") or f.name == CATALOG_NAME:
                    continue
                reason = _link_problem(f, root)
                if reason:
                    if skipped is not None:
                        skipped.append((str(f), reason))
                elif f.is_file():
                    files.append(f)
        elif path.is_file():
            files.append(path)
        else:
            raise RagError(f"{path}: no such file or folder")
    return files


def _link_problem(path: Path, root: Path) -> str | None:
    """Why a link under ``root`` is not followed, or None (not a link, or one inside).

    Folders are not descended through links (``rglob``), so only the entry itself can be one.
    """
    if not path.is_symlink():
        return None
    target = path.resolve()
    if target == root or root in target.parents:
        return None if target.exists() else "a broken link (its target does not exist)"
    kind = "folder" if target.is_dir() else "file"
    return f"a link to a {kind} outside the corpus folder; links out of it are not followed"


def chunk_texts_for_embedding(doc: Document, chunks: list[Chunk], settings: Settings) -> list[str]:
    if not settings.embed_prefix:
        return [c.text for c in chunks]
    return [embed_prefix(doc.title, c.section) + c.text for c in chunks]


@dataclass
class _Pending:
    """A file to load: new, changed, or indexed but due for cleaning again."""

    path: Path
    digest: str
    blocks: Blocks | None = None
    previous: StoredDoc | None = None  # the indexed document it replaces, if any
    reclean: bool = False


def sync(
    paths: list[Path],
    settings: Settings,
    rebuild: bool = False,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """Bring the index at ``settings.index_dir`` in line with the files under ``paths``.

    ``progress(stage, done, total)`` is called with the stages "scanning", "reading",
    "embedding" and "committing".
    """
    started = time.perf_counter()
    report = SyncReport()
    tell = progress or (lambda stage, done, total: None)
    paths = [p.resolve() for p in paths]
    files = list_files(paths, report.failed)
    catalog: dict[str, dict] = {}
    for folder in {p if p.is_dir() else p.parent for p in paths}:
        catalog.update(read_catalog(folder))
    embedder = embedder or embedder_for(settings)  # the model itself loads only if needed
    manifest = manifest_for(settings, embedder.backend)
    with Writer(settings.index_dir, manifest, rebuild=rebuild) as writer:
        stored = writer.stored_documents()
        by_source = {d.source: d for d in stored.values()}
        chosen = _hash_files(files, stored, report, tell)
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
        pending = _drop_duplicates([p for p in pending if p.blocks], kept, catalog, report)
        raw_keys = {id(p): line_keys(_raw_text(p.blocks)) for p in pending}
        common = common_line_keys([*raw_keys.values(), *(set(d.line_keys) for d in kept.values())])
        pending += _due_for_cleaning(kept, chosen, common, raw_keys)
        report.unchanged = [str(chosen[h]) for h in kept if h in chosen]
        ids = _assign_ids(chosen, kept, pending, catalog, writer)
        counter = TokenCounter(settings.model_path)
        staged: list[tuple[Document, list[Chunk], set[str], _Pending]] = []
        for item in pending:
            said: list[str] = []
            try:
                meta = catalog.get(item.path.name)
                doc = load_document(item.path, meta, common, item.blocks, warnings=said)
            except RagError as exc:
                report.failed.append((str(item.path), _reason(exc, item.path)))
                continue
            report.warnings += [(str(item.path), message) for message in said]
            doc.doc_id = ids[id(item)]
            chunks = chunk_document(
                doc, counter, settings.chunk_tokens, settings.overlap_tokens, settings.embed_prefix
            )
            staged.append((doc, chunks, raw_keys[id(item)], item))
        replaced = {p.previous.sha256 for _, _, _, p in staged if p.previous is not None}
        for digest, old in stored.items():
            if digest not in kept or digest in replaced:
                writer.remove(old.doc_id)
        _report_changes(stored, kept, staged, report)
        vectors, sentence_rows = embed_staged(
            [(d, c, k) for d, c, k, _ in staged], settings, embedder, progress
        )
        report.chunks_embedded = sum(len(chunks) for _, chunks, _, _ in staged)
        start = 0
        for doc, chunks, keys, _ in staged:
            end = start + len(chunks)
            writer.add(
                doc, chunks, vectors[start:end], keys, sentence_rows[start:end], keys & common
            )
            start = end
        if settings.case_cards:
            reader = reader_for(settings.reader_model)
            stage_cards(writer, [(d, c) for d, c, _, _ in staged], reader, tell)
        tell("committing", 0, 1)
        writer.commit()
        tell("committing", 1, 1)
        report.documents = writer.db.execute("SELECT count(*) FROM documents").fetchone()[0]
        report.chunks = writer.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
    report.seconds = time.perf_counter() - started
    return report


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


@dataclass
class _Identity:
    """What makes two files the same article."""

    name: str
    doi: str
    pmid: str
    title: str
    long_lines: set[str]
    year: int | None = None
    surnames: frozenset[str] = frozenset()


def _identity(name: str, meta: dict, keys: Iterable[str]) -> _Identity:
    title = re.sub(r"[^a-z0-9]+", " ", str(meta.get("title") or "").lower()).strip()
    return _Identity(
        name,
        str(meta.get("doi") or "").strip().lower().removeprefix("https://doi.org/"),
        str(meta.get("pmid") or "").strip(),
        title if len(title.split()) >= MIN_TITLE_WORDS else "",
        {k for k in keys if len(k.split()) >= LONG_LINE_WORDS},
        int(meta["year"]) if str(meta.get("year") or "").isdigit() else None,
        frozenset(str(a).split()[-1].lower() for a in meta.get("authors") or [] if str(a).split()),
    )


def _same_article(a: _Identity, b: _Identity) -> str | None:
    """Why ``a`` and ``b`` are the same article, or None. Differing DOIs settle it."""
    if a.doi and b.doi:
        return f"same DOI {a.doi}" if a.doi == b.doi else None
    if a.pmid and a.pmid == b.pmid:
        return f"same PMID {a.pmid}"
    # A title alone can be a journal's name picked off a first page: want a second sign.
    if a.title and a.title == b.title and (a.year and a.year == b.year or a.surnames & b.surnames):
        return "same title"
    shared = len(a.long_lines & b.long_lines)
    smaller = min(len(a.long_lines), len(b.long_lines))
    if shared >= 3 and shared >= 0.8 * smaller:
        return "near-identical text"
    return None


def _drop_duplicates(
    pending: list[_Pending],
    kept: dict[str, StoredDoc],
    catalog: dict[str, dict],
    report: SyncReport,
) -> list[_Pending]:
    """New files that are an article already indexed, or already among the new, are skipped."""
    seen = [
        _identity(Path(d.source).name, _info_meta(d.info), d.line_keys)
        for d in kept.values()
        if d.info is not None
    ]
    order = sorted(pending, key=lambda p: (_preference(p.path), len(p.path.name), str(p.path)))
    unique: set[int] = set()
    for item in order:
        meta = merged_metadata(item.blocks[2], catalog.get(item.path.name))
        me = _identity(item.path.name, meta, line_keys(_raw_text(item.blocks)))
        why = next(((other, r) for other in seen if (r := _same_article(me, other))), None)
        if why is not None:
            other, reason = why
            report.failed.append((str(item.path), f"duplicate: {reason} as {other.name}"))
            continue
        seen.append(me)
        unique.add(id(item))
    return [p for p in pending if id(p) in unique]


def _due_for_cleaning(
    kept: dict[str, StoredDoc],
    chosen: dict[str, Path],
    common: set[str],
    pending_keys: dict[int, set[str]],
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
        item = _Pending(path, digest, blocks, previous=d, reclean=True)
        pending_keys[id(item)] = set(d.line_keys)
        due.append(item)
    return due


def _assign_ids(
    chosen: dict[str, Path],
    kept: dict[str, StoredDoc],
    pending: list[_Pending],
    catalog: dict[str, dict],
    writer: Writer,
) -> dict[int, str]:
    """Doc ids for pending files; unchanged files that moved or were re-described get
    theirs updated in place (no re-embedding). Ids stay unique and, where possible, stable.
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
            if _info_meta(old.info) != _info_meta(_doc_info(doc)):
                writer.update_source(old.doc_id, doc)
    ids: dict[int, str] = {}
    for item in pending:
        if item.previous is not None and (item.reclean or item.previous.doc_id not in used):
            ids[id(item)] = item.previous.doc_id
        else:
            ids[id(item)] = _unique_id(doc_id_for(item.path), used)
        used.add(ids[id(item)])
    return ids


def _described(old: StoredDoc, doc_id: str, f: Path, meta: dict | None) -> Document:
    """The stored description of an unchanged document under its new name and catalog entry."""
    info = merged_metadata(_info_meta(old.info), meta)
    doc = Document(doc_id, str(f), old.sha256, [])
    doc.title = info.get("title") or ""
    doc.authors = list(info.get("authors") or [])
    doc.journal = info.get("journal") or ""
    doc.year = int(info["year"]) if info.get("year") else None
    doc.doi = info.get("doi") or ""
    doc.pmid = str(info.get("pmid") or "")
    return doc


def _info_meta(info: DocInfo | None) -> dict:
    if info is None:
        return {}
    fields = ("title", "authors", "journal", "year", "doi", "pmid")
    return {k: getattr(info, k) for k in fields if getattr(info, k) not in (None, "", [])}


def _doc_info(doc: Document) -> DocInfo:
    return DocInfo(
        doc.doc_id, doc.source, doc.title, doc.authors, doc.journal, doc.year, doc.doi, doc.pmid
    )


def _report_changes(
    stored: dict[str, StoredDoc],
    kept: dict[str, StoredDoc],
    staged: list[tuple[Document, list[Chunk], set[str], _Pending]],
    report: SyncReport,
) -> None:
    staged_sources = {p.previous.source for _, _, _, p in staged if p.previous and not p.reclean}
    for _, _, _, item in staged:
        if item.reclean:
            report.recleaned.append(str(item.path))
        elif item.previous is not None:
            report.updated.append(str(item.path))
        else:
            report.added.append(str(item.path))
    for digest, old in stored.items():
        if digest not in kept and old.source not in staged_sources:
            report.removed.append(old.source)


def embed_staged(
    staged: list[tuple[Document, list[Chunk], set[str]]],
    settings: Settings,
    embedder: Embedder | None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, list[list[tuple[int, int, np.ndarray]]]]:
    """Chunk vectors, and per chunk its quotable sentences' (start, end, vector).

    Chunks and sentences go through the model together, sorted by length so that short
    sentences batch together; a sentence repeated by chunk overlap is embedded once.
    With ``progress``, the model is called in slices so that progress can be reported.
    """
    chunks = [c for _, cs, _ in staged for c in cs]
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32), []
    texts = [t for doc, cs, _ in staged for t in chunk_texts_for_embedding(doc, cs, settings)]
    spans = [quotable_sentences(c.text) if settings.sentence_vectors else [] for c in chunks]
    sentences = [[c.text[s.start : s.end] for s in ss] for c, ss in zip(chunks, spans, strict=True)]
    unique = list(dict.fromkeys(t for ts in sentences for t in ts))
    embedder = embedder or embedder_for(settings)
    inputs = texts + unique
    if progress is None:
        encoded = embedder.encode(inputs)
    else:
        order = sorted(range(len(inputs)), key=lambda i: -len(inputs[i]))
        encoded = np.zeros((len(inputs), embedder.dimension), dtype=np.float32)
        progress("embedding", 0, len(inputs))
        for start in range(0, len(order), EMBED_BATCH):
            part = order[start : start + EMBED_BATCH]
            encoded[part] = embedder.encode([inputs[i] for i in part], progress=False)
            progress("embedding", min(start + EMBED_BATCH, len(inputs)), len(inputs))
    by_text = dict(zip(unique, encoded[len(texts) :], strict=True))
    rows = [
        [(s.start, s.end, by_text[t]) for s, t in zip(ss, ts, strict=True)]
        for ss, ts in zip(spans, sentences, strict=True)
    ]
    return encoded[: len(texts)], rows


def _raw_text(blocks: Blocks | None) -> str:
    return "\n".join(s.text for s in blocks[1]) if blocks else ""


def _preference(path: Path) -> int:
    suffix = path.suffix.lower()
    return (
        FORMAT_PREFERENCE.index(suffix) if suffix in FORMAT_PREFERENCE else len(FORMAT_PREFERENCE)
    )


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
