"""The texts an index embedded, read back, and the bare libraries encoding them.

The bare side is what a user of sentence-transformers or onnxruntime alone would write,
so that CaseQA's own path is measured beside the same work done without it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.embedding import Embedder, model_dimension


def embedded_texts(index_dir: Path, settings: Settings) -> tuple[list[str], list[str]]:
    """What ``rag.staging.embed_staged`` gave the model for this index, read back from it.

    Chunk texts with their "title. section." prefix, then each distinct sentence text.
    """
    from rag.chunking import embed_prefix
    from rag.store import CATALOG

    db = sqlite3.connect(index_dir / CATALOG)
    rows = db.execute(
        "SELECT c.chunk_id, c.text, c.section, d.title FROM chunks c JOIN documents d"
        " USING (doc_key) ORDER BY c.chunk_id"
    ).fetchall()
    chunks = [
        (embed_prefix(title, section) + text) if settings.embed_prefix else text
        for _, text, section, title in rows
    ]
    texts = {cid: text for cid, text, _, _ in rows}
    spans = db.execute("SELECT chunk_id, start, end FROM sentences ORDER BY chunk_id, start")
    sentences = list(dict.fromkeys(texts[c][a:b] for c, a, b in spans))
    db.close()
    return chunks, sentences


class TimedEmbedder(Embedder):
    """The real Embedder, also adding up the seconds spent inside ``encode``."""

    seconds = 0.0
    texts = 0
    characters = 0

    def encode(self, texts, progress=None):
        self.texts += len(texts)
        self.characters += sum(len(t) for t in texts)
        t0 = time.perf_counter()
        try:
            return super().encode(texts, progress=False)
        finally:
            self.seconds += time.perf_counter() - t0


def bare_encoder(model_dir: Path, backend: str, device: str):
    """``encode(texts, batch_size)`` as a user of the bare library for this backend writes it.

    torch: ``SentenceTransformer.encode``. ONNX: the same ONNX file under a plain
    ``InferenceSession``, texts in sentence-transformers' order (longest first by
    characters), padded per batch, mean-pooled and normalised.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if backend == "torch":
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(model_dir), device=device)
        return lambda texts, batch_size=32: model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True
        )
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from rag.embedding import max_seq_length, onnx_model_path

    session = ort.InferenceSession(
        str(onnx_model_path(model_dir, quantized=backend == "onnx-int8")),
        providers=["CPUExecutionProvider"],
    )
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_seq_length(model_dir))
    tokenizer.enable_padding()

    def encode(texts: list[str], batch_size: int = 32) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), model_dimension(model_dir)), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer.encode_batch([texts[i] for i in idx])
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feeds = {
                "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": mask,
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
            }
            hidden = session.run(None, feeds)[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / m.sum(axis=1)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out

    return encode
