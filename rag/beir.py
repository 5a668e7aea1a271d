"""BEIR-format benchmark folders: load them, and index their corpus once into a cache.

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (``query-id``, ``corpus-id``, ``score``).
The corpus records are indexed directly as Documents through the same chunker, embedder
and store writer that ``rag index`` uses, into ``eval/cache/<name>-<key>/``; the key
hashes the corpus bytes and everything that changes the built index, so a second run
with the same settings opens the cache instead of embedding again.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.chunking import TokenCounter, chunk_document
from rag.config import PROJECT_ROOT, Settings
from rag.documents import Chunk, Document, Section
from rag.embedding import Embedder, embedder_for, model_id
from rag.errors import RagError
from rag.indexing import embed_staged, manifest_for
from rag.ingest.clean import normalize_unicode
from rag.store import CATALOG, SCHEMA_VERSION, Writer

Progress = Callable[[str, int, int], None]
DEFAULT_CACHE = PROJECT_ROOT / "eval" / "cache"
READY = "dataset.json"  # written after the index commits: its presence means "complete"
# Bump when the record -> Document conversion changes, so old caches are not reused.
CONVERSION_VERSION = 1
EMBED_BATCH_DOCS = 256  # documents embedded per call: progress granularity, bounded memory


@dataclass
class BeirDataset:
    """The judged queries of one split, their qrels, and where the corpus lies."""

    root: Path
    split: str
    queries: dict[str, str]  # judged queries only, in queries.jsonl order
    qrels: dict[str, dict[str, int]]  # positive judgements only
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def corpus_path(self) -> Path:
        return self.root / "corpus.jsonl"

    def documents(self) -> Iterator[Document]:
        """Each corpus record as a one-section Document (title kept for the chunk prefix)."""
        yield from read_corpus(self.corpus_path)


def load_beir(root: Path, split: str | None = None) -> BeirDataset:
    """Read queries and qrels; the split defaults to the only file in ``qrels/``."""
    root = Path(root)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels"):
        if not (root / name).exists():
            raise RagError(
                f"{root}: not a BEIR folder (missing {name}); expected corpus.jsonl, "
                "queries.jsonl and qrels/<split>.tsv"
            )
    splits = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
    if split is None:
        if len(splits) != 1:
            raise RagError(
                f"{root / 'qrels'} holds {len(splits)} splits ({', '.join(splits) or 'none'}):"
                " choose one with --split NAME"
            )
        split = splits[0]
    elif split not in splits:
        raise RagError(f"{root}: no qrels/{split}.tsv (splits: {', '.join(splits) or 'none'})")
    qrels = read_qrels(root / "qrels" / f"{split}.tsv")
    warnings: list[str] = []
    queries: dict[str, str] = {}
    for n, row in _jsonl(root / "queries.jsonl"):
        try:
            qid, text = str(row["_id"]), str(row["text"])
        except (KeyError, TypeError) as exc:
            raise RagError(f"{root / 'queries.jsonl'}:{n}: expected {{'_id', 'text'}}") from exc
        if qid in qrels:
            queries[qid] = text
    missing = [q for q in qrels if q not in queries]
    if missing:
        warnings.append(f"{len(missing)} judged queries have no text in queries.jsonl; skipped")
        qrels = {q: rel for q, rel in qrels.items() if q in queries}
    if not queries:
        raise RagError(f"{root}: no query of queries.jsonl is judged in qrels/{split}.tsv")
    return BeirDataset(root, split, queries, qrels, warnings)


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query-id, corpus-id, score`` rows (header optional); zero scores are not relevant."""
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f, delimiter="\t"), start=1):
            if not row or (n == 1 and row[0].strip().lower() in {"query-id", "query_id", "qid"}):
                continue
            try:
                qid, doc_id, score = row[0].strip(), row[1].strip(), int(float(row[-1]))
            except (IndexError, ValueError) as exc:
                raise RagError(f"{path}:{n}: expected query-id<TAB>corpus-id<TAB>score") from exc
            if score > 0:
                qrels.setdefault(qid, {})[doc_id] = score
    return qrels


def read_corpus(path: Path) -> Iterator[Document]:
    seen: set[str] = set()
    for n, row in _jsonl(path):
        try:
            doc_id = str(row["_id"])
            title = str(row.get("title") or "").strip()
            text = str(row.get("text") or "")
        except (KeyError, TypeError, AttributeError) as exc:
            raise RagError(f"{path}:{n}: expected {{'_id', 'title', 'text'}}") from exc
        if doc_id in seen:
            raise RagError(f"{path}:{n}: duplicate _id {doc_id!r}")
        seen.add(doc_id)
        text = normalize_unicode(text).strip() or title  # a title-only record is still findable
        if not text:
            continue
        digest = hashlib.sha256(f"{doc_id}\0{title}\0{text}".encode()).hexdigest()
        yield Document(
            doc_id=doc_id,
            source=f"{path}#{doc_id}",
            sha256=digest,  # unique per record: the store keys documents by content hash
            sections=[Section(heading=None, text=text)],
            title=normalize_unicode(title),
        )


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if line.strip():
                try:
                    yield n, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise RagError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc


def index_key(corpus_path: Path, settings: Settings) -> str:
    """Hash of the corpus bytes and of every setting that changes the built index."""
    digest = hashlib.sha256()
    with open(corpus_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    build = {
        "model": model_id(settings.model_path),
        "chunk_tokens": settings.chunk_tokens,
        "overlap_tokens": settings.overlap_tokens,
        "embed_prefix": settings.embed_prefix,
        "sentence_vectors": settings.sentence_vectors,
        # Only non-default backends change the key, so existing torch caches stay valid.
        **({"backend": settings.backend} if settings.backend != "torch" else {}),
        "schema": SCHEMA_VERSION,
        "conversion": CONVERSION_VERSION,
    }
    digest.update(json.dumps(build, sort_keys=True).encode())
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

    The same building blocks as ``rag.indexing.sync`` (chunker, ``embed_staged``, Writer),
    minus file discovery and cleaning: BEIR records are already clean text.
    """
    docs = list(documents)
    counter = TokenCounter(settings.model_path)
    staged: list[tuple[Document, list[Chunk], set[str]]] = []
    for doc in docs:
        chunks = chunk_document(
            doc, counter, settings.chunk_tokens, settings.overlap_tokens, settings.embed_prefix
        )
        staged.append((doc, chunks, set()))
    embedder = embedder or embedder_for(settings)
    total = sum(len(c) for _, c, _ in staged)
    done = 0
    with Writer(
        settings.index_dir, manifest_for(settings, embedder.backend), rebuild=True
    ) as writer:
        for start in range(0, len(staged), EMBED_BATCH_DOCS):
            if progress:
                progress("embedding", done, total)
            batch = staged[start : start + EMBED_BATCH_DOCS]
            vectors, sentences = embed_staged(batch, settings, embedder)
            row = 0
            for doc, chunks, keys in batch:
                end = row + len(chunks)
                writer.add(doc, chunks, vectors[row:end], keys, sentences[row:end])
                row = end
            done += row
        if progress:
            progress("embedding", done, total)
        writer.commit()
    return len(staged), total
