"""BEIR-format benchmark folders, read: queries, qrels, and the corpus as Documents.

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (``query-id``, ``corpus-id``, ``score``).
Its corpus is indexed once into a cache by ``rag.eval.cache.cached_index``.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag.documents import Document, Section
from rag.errors import RagError
from rag.ingest.clean import normalize_unicode

# Bump when the record -> Document conversion changes, so old caches are not reused.
CONVERSION_VERSION = 1


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
