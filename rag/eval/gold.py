"""The project's JSONL gold sets, and the passage-level judgements made from them.

A line is ``{"id", "question", "relevant", "answer_contains", "answerable"}``. A passage
is relevant when its document is listed and, where ``answer_contains`` is given, it holds
one of those substrings (compared after folding case, whitespace and dash variants).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from rag.documents import Chunk
from rag.errors import RagError

MISSING = "(no relevant passage in the index)"  # stands in so such a question scores 0
_DASHES = re.compile("[\u2010-\u2015\u2212]")


def fold(text: str) -> str:
    """Case, whitespace runs and dash variants folded, so gold substrings match cleaned text."""
    text = _DASHES.sub("-", unicodedata.normalize("NFKC", text))
    return " ".join(text.split()).casefold()


@dataclass
class GoldQuestion:
    id: str
    question: str
    relevant: list[str]
    answer_contains: list[str] = field(default_factory=list)
    answerable: bool = True

    def contains_answer(self, text: str) -> bool:
        folded = fold(text)
        return any(fold(s) in folded for s in self.answer_contains)

    def passage_relevant(self, doc_id: str, text: str) -> bool:
        if doc_id not in self.relevant:
            return False
        return not self.answer_contains or self.contains_answer(text)


def load_gold(path: Path) -> list[GoldQuestion]:
    """Read a JSONL gold set; a malformed line is an error that names the line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RagError(f"{path}: cannot read ({exc.strerror})") from exc
    out: list[GoldQuestion] = []
    seen: set[str] = set()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        q = _question(line, f"{path}:{n}")
        if q.id in seen:
            raise RagError(f"{path}:{n}: duplicate id {q.id!r}")
        if q.answerable and not q.relevant:
            raise RagError(f"{path}:{n}: an answerable question needs its relevant documents")
        seen.add(q.id)
        out.append(q)
    if not out:
        raise RagError(f"{path}: no questions")
    return out


def _question(line: str, where: str) -> GoldQuestion:
    try:
        row = json.loads(line)
        relevant = [str(d) for d in row.get("relevant") or []]
        return GoldQuestion(
            id=str(row["id"]),
            question=str(row["question"]),
            relevant=relevant,
            answer_contains=[str(s) for s in row.get("answer_contains") or []],
            answerable=bool(row.get("answerable", bool(relevant))),
        )
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise RagError(
            f'{where}: expected {{"id", "question", "relevant": [...], '
            f'"answer_contains": [...], "answerable": true|false}}'
        ) from exc


def passage_id(chunk: Chunk) -> str:
    """Stable across rebuilds with the same chunking (chunk_id is not)."""
    return f"{chunk.doc_id}#{chunk.ordinal}"


def gold_qrels(pipeline, questions: list[GoldQuestion]) -> tuple[dict, list[str]]:
    """Passage-level qrels: every indexed passage of a relevant document that holds the answer."""
    store = pipeline.store
    wanted = sorted({d for q in questions if q.answerable for d in q.relevant})
    chunks_by_doc: dict[str, list[Chunk]] = {}
    if wanted:
        for chunk, _doc in store.chunks(store.chunk_ids_for_docs(wanted)).values():
            chunks_by_doc.setdefault(chunk.doc_id, []).append(chunk)
    qrels: dict[str, dict[str, int]] = {}
    warnings: list[str] = []
    absent = [d for d in wanted if d not in chunks_by_doc]
    if absent:
        warnings.append(f"relevant documents not in the index: {', '.join(absent)}")
    for q in questions:
        if not q.answerable:
            continue
        rel = {
            passage_id(c): 1
            for d in q.relevant
            for c in chunks_by_doc.get(d, [])
            if q.passage_relevant(c.doc_id, c.text)
        }
        if not rel:
            warnings.append(f"{q.id}: no indexed passage of its documents holds the answer text")
            rel = {MISSING: 1}
        qrels[q.id] = rel
    return qrels, warnings
