"""``IndexSpec``: what makes one index different from another.

One list, used three ways: the manifest row of every index records it (and a reader or
writer checks it against the configured one), the BEIR cache (``rag.eval.cache``) and the
evaluation corpus cache name their folders by its ``key()``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.chunking import SPLITTER_VERSION
from rag.errors import RagError
from rag.store.catalog import SCHEMA_VERSION

CHUNKING = ("chunk_tokens", "overlap_tokens", "embed_prefix")


@dataclass(frozen=True)
class IndexSpec:
    """What an index is built with; a mismatch with the settings means rebuild."""

    model_id: str
    dimension: int
    chunk_tokens: int
    overlap_tokens: int
    embed_prefix: bool
    schema_version: int = SCHEMA_VERSION
    normalized: bool = True
    index_type: str = "auto"  # the setting; `stats()` reports the type actually built
    # The embedding runtime of every stored vector. Indexes written before it was recorded
    # were all built with torch, the default of that time.
    backend: str = "torch"
    # Whether quotable sentences are embedded at index time (None: read from a manifest,
    # which does not record it). Never checked: an index may hold documents with and
    # without them (answers embed a missing sentence on the spot), but a cache built
    # without them is another one.
    sentence_vectors: bool | None = None

    def key_fields(self) -> dict:
        """The fields that name a cached index. ``dimension`` and ``normalized`` follow
        from the model; ``index_type`` is left out because the FAISS type is chosen again
        at each commit and changes no stored vector; the backend only when not torch, so
        that caches built before it was recorded keep their names. The sentence splitter's
        version names caches only: an index built with older rules stays valid."""
        return {
            "model": self.model_id,
            "chunk_tokens": self.chunk_tokens,
            "overlap_tokens": self.overlap_tokens,
            "embed_prefix": self.embed_prefix,
            "sentence_vectors": self.sentence_vectors,
            **({"backend": self.backend} if self.backend != "torch" else {}),
            "schema": self.schema_version,
            "splitter": SPLITTER_VERSION,
        }

    def fingerprint(self, **extra) -> str:
        """Canonical JSON of ``key_fields`` plus what else names the index (its corpus)."""
        return json.dumps({**self.key_fields(), **extra}, sort_keys=True)

    def key(self, **extra) -> str:
        """A stable 16-hex-digit hash of ``fingerprint(**extra)``."""
        return hashlib.sha256(self.fingerprint(**extra).encode()).hexdigest()[:16]

    def to_json(self) -> str:
        """The manifest row. ``sentence_vectors`` names caches but is left out of it: it is
        never checked, and so the manifest stays what earlier versions read."""
        fields = asdict(self)
        del fields["sentence_vectors"]
        return json.dumps(fields)

    @classmethod
    def from_json(cls, text: str) -> IndexSpec:
        return cls(**json.loads(text))

    def check(self, stored: IndexSpec, index_dir: Path, writing: bool = False) -> None:
        """Raise a RagError saying which field of the ``stored`` index differs.

        Reading needs the same schema and model; writing also the same backend (vectors of
        another runtime differ in the last digits) and chunking.
        """
        how = f"rebuild it with `rag index --rebuild --index {index_dir}`"
        if self.schema_version != stored.schema_version:
            raise RagError(
                f"The index in {index_dir} has schema version {stored.schema_version}, "
                f"this version of CaseQA reads {self.schema_version}: {how}."
            )
        if (self.model_id, self.dimension) != (stored.model_id, stored.dimension):
            raise RagError(
                f"The index in {index_dir} was built with the model {stored.model_id} "
                f"({stored.dimension} dimensions), but the configured model is {self.model_id} "
                f"({self.dimension}): {how}, or point RAG_MODEL at the model it was built with."
            )
        if writing:
            self._check_writable(stored, index_dir)

    def _check_writable(self, stored: IndexSpec, index_dir: Path) -> None:
        """Readers need no backend check: a question encoded by another backend still
        finds the same passages (cosine > 0.98 between backends)."""
        if self.backend != stored.backend:
            raise RagError(
                f"The index in {index_dir} was embedded with the {stored.backend} backend, "
                f"and the configured backend is {self.backend}: set RAG_BACKEND="
                f"{stored.backend} (or --backend {stored.backend}) to add to it, or re-embed "
                f"it with `rag index --rebuild --index {index_dir}`."
            )
        differ = [f for f in CHUNKING if getattr(self, f) != getattr(stored, f)]
        if differ:
            raise RagError(
                f"The index in {index_dir} was chunked with other settings "
                f"({stored.chunk_tokens}/{stored.overlap_tokens} tokens, prefix "
                f"{stored.embed_prefix}; {', '.join(differ)} differ): run `rag index "
                "--rebuild` to apply the new ones."
            )
