"""Chunk and embed documents for the index: the one path shared by ``rag index``
(``rag.indexing.sync``), the BEIR cache (``rag.eval.cache``), the Ray plan
(``rag.distributed``) and the encode benchmark, so that none of them mirrors another.

A ``StagedDoc`` is chunked by ``stage`` as the ``IndexSpec`` says, and ``embed_staged``
gives it its vectors; ``planned_texts`` lists what ``embed_staged`` would send to the
model, for embedding elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from rag.chunking import Span, TokenCounter, chunk_document, embed_prefix, quotable_sentences
from rag.config import IndexSettings
from rag.documents import Chunk, Document
from rag.embedding import Embedder, model_dimension, model_id
from rag.store import IndexSpec, StagedDoc

Progress = Callable[[str, int, int], None]
EMBED_BATCH = 256  # texts per model call when reporting progress


def index_spec(index: IndexSettings, backend: str | None = None) -> IndexSpec:
    """What an index built with these settings (``Settings.index``; and this embedding
    backend) records."""
    path = index.model_path
    return IndexSpec(
        model_id=model_id(path),
        dimension=model_dimension(path),
        chunk_tokens=index.chunk_tokens,
        overlap_tokens=index.overlap_tokens,
        embed_prefix=index.embed_prefix,
        index_type=index.index_type,
        backend=backend or index.backend,
        sentence_vectors=index.sentence_vectors,
    )


def stage(
    doc: Document, spec: IndexSpec, counter: TokenCounter, line_keys: Iterable[str] = ()
) -> StagedDoc:
    """The document cut into chunks by the spec's chunking (not yet embedded)."""
    chunks = chunk_document(doc, counter, spec.chunk_tokens, spec.overlap_tokens, spec.embed_prefix)
    return StagedDoc(doc, chunks, set(line_keys))


def chunk_texts(doc: Document, chunks: list[Chunk], spec: IndexSpec) -> list[str]:
    """What the model embeds for each chunk: its text, after "title. section." if the spec
    says so."""
    if not spec.embed_prefix:
        return [c.text for c in chunks]
    return [embed_prefix(doc.title, c.section) + c.text for c in chunks]


def _sentences(
    staged: list[StagedDoc], spec: IndexSpec
) -> tuple[list[list[Span]], list[list[str]]]:
    """Per chunk, its quotable sentences' spans and texts (none without sentence vectors)."""
    chunks = [c for s in staged for c in s.chunks]
    spans = [quotable_sentences(c.text) if spec.sentence_vectors else [] for c in chunks]
    texts = [[c.text[s.start : s.end] for s in ss] for c, ss in zip(chunks, spans, strict=True)]
    return spans, texts


def planned_texts(staged: list[StagedDoc], spec: IndexSpec) -> list[str]:
    """Every distinct text ``embed_staged`` would send to the model, in its order."""
    texts = [t for s in staged for t in chunk_texts(s.doc, s.chunks, spec)]
    _, sentences = _sentences(staged, spec)
    return list(dict.fromkeys(texts + [t for ts in sentences for t in ts]))


def embed_staged(
    staged: list[StagedDoc],
    spec: IndexSpec,
    embedder: Embedder,
    progress: Progress | None = None,
) -> None:
    """Give each staged document its chunk vectors and, per chunk, its quotable
    sentences' (start, end, vector).

    Chunks and sentences go through the model together, sorted by length so that short
    sentences batch together; a sentence repeated by chunk overlap is embedded once.
    With ``progress``, the model is called in slices so that progress can be reported.
    """
    if not any(s.chunks for s in staged):
        for s in staged:
            s.vectors, s.sentences = np.zeros((0, 0), dtype=np.float32), []
        return
    texts = [t for s in staged for t in chunk_texts(s.doc, s.chunks, spec)]
    spans, sentences = _sentences(staged, spec)
    unique = list(dict.fromkeys(t for ts in sentences for t in ts))
    encoded = _encode(embedder, texts + unique, progress)
    by_text = dict(zip(unique, encoded[len(texts) :], strict=True))
    rows = [
        [(s.start, s.end, by_text[t]) for s, t in zip(ss, ts, strict=True)]
        for ss, ts in zip(spans, sentences, strict=True)
    ]
    start = 0
    for s in staged:
        end = start + len(s.chunks)
        s.vectors, s.sentences = encoded[start:end], rows[start:end]
        start = end


def _encode(embedder: Embedder, inputs: list[str], progress: Progress | None) -> np.ndarray:
    if progress is None:
        return embedder.encode(inputs)
    order = sorted(range(len(inputs)), key=lambda i: -len(inputs[i]))
    encoded = np.zeros((len(inputs), embedder.dimension), dtype=np.float32)
    progress("embedding", 0, len(inputs))
    for start in range(0, len(order), EMBED_BATCH):
        part = order[start : start + EMBED_BATCH]
        encoded[part] = embedder.encode([inputs[i] for i in part], progress=False)
        progress("embedding", min(start + EMBED_BATCH, len(inputs)), len(inputs))
    return encoded
