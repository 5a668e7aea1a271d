"""Sentence-transformers embeddings from a local model folder, loaded once, no network."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.errors import RagError

_lock = threading.Lock()
_models: dict[tuple[str, str], object] = {}


def model_id(model_dir: Path) -> str:
    """A readable id plus a fingerprint of the folder's config and weights size.

    Computed from files only, so commands that just check an index need not import torch.
    """
    if not (model_dir / "modules.json").exists() and not (model_dir / "config.json").exists():
        raise RagError(f"{model_dir}: not a sentence-transformers model folder")
    digest = hashlib.sha1()
    for name in ("config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json"):
        if (model_dir / name).exists():
            digest.update((model_dir / name).read_bytes())
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        digest.update(str(weights.stat().st_size).encode())
    name = model_dir.name if model_dir.name != "model" else model_dir.parent.name
    return f"{name}@{digest.hexdigest()[:12]}"


def model_dimension(model_dir: Path) -> int:
    pooling = model_dir / "1_Pooling" / "config.json"
    if pooling.exists():
        return int(json.loads(pooling.read_text())["word_embedding_dimension"])
    return int(json.loads((model_dir / "config.json").read_text())["hidden_size"])


class Embedder:
    """L2-normalised float32 vectors; the underlying model is shared per process."""

    def __init__(self, model_dir: Path, device: str = "cpu", batch_size: int = 32):
        self.model_dir = Path(model_dir)
        self.device = device
        self.batch_size = batch_size
        self.model_id = model_id(self.model_dir)
        self.dimension = model_dimension(self.model_dir)

    @cached_property
    def model(self):
        key = (str(self.model_dir), self.device)
        with _lock:
            if key not in _models:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                _models[key] = SentenceTransformer(
                    str(self.model_dir), device=self.device, local_files_only=True
                )
            return _models[key]

    def encode_query(self, text: str) -> np.ndarray:
        """One question's vector, cached: retrieval and answering both need it."""
        return self._query_cache(text)

    @cached_property
    def _query_cache(self):
        from functools import lru_cache

        return lru_cache(maxsize=512)(lambda t: self.encode([t], progress=False)[0])

    def encode(self, texts: list[str], progress: bool | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=len(texts) >= 256 if progress is None else progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
