"""Vector reads of the index: the FAISS generation in hand, and the stored sentence
vectors (float16 rows of the ``sentences`` table).

Mixed into ``rag.store.Store``, which provides ``db``, ``dir``, ``_faiss_lock`` and
``_current()`` (the generation in hand).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rag.errors import RagError


class VectorReads:
    """Dense search over chunk vectors and, optionally, over every sentence vector."""

    db: sqlite3.Connection
    dir: Path
    _faiss_lock: threading.Lock
    _sentence_index: tuple | None

    def dense_search(self, vector: np.ndarray, depth: int) -> list[tuple[int, float]]:
        _, index = self._current()
        if index is None or len(index) == 0:
            return []
        scores, ids = index.search(vector.reshape(1, -1), depth)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def sentence_search(
        self, vector: np.ndarray, depth: int, decay: float = 0.3, pool: int = 10
    ) -> list[tuple[int, float]]:
        """Chunks ranked by their closest stored sentences: best + ``decay`` x second best.

        Searches every stored sentence vector (an in-memory flat index built on first use
        and again after a writer commits), takes the ``pool * depth`` nearest and scores
        each chunk they belong to. A claim often matches one or two sentences of a passage
        closely while the passage as a whole is about more.
        """
        generation, _ = self._current()
        loaded = self._sentence_index
        if loaded is None or loaded[0] != generation:
            loaded = self._load_sentence_index(generation)
        _, index, owners = loaded
        if index is None or index.ntotal == 0:
            return []
        scores, rows = index.search(vector.reshape(1, -1).astype(np.float32), pool * depth)
        best: dict[int, list[float]] = {}
        for row, score in zip(rows[0], scores[0], strict=True):
            if row < 0:
                continue
            top = best.setdefault(int(owners[row]), [])
            if len(top) < 2:
                top.append(float(score))
        ranked = {c: t[0] + decay * (t[1] if len(t) > 1 else 0.0) for c, t in best.items()}
        order = sorted(ranked, key=lambda c: -ranked[c])[:depth]
        return [(c, ranked[c]) for c in order]

    def _load_sentence_index(self, generation: int):
        import faiss

        with self._faiss_lock:
            rows = self.db.execute("SELECT chunk_id, vector FROM sentences").fetchall()
            if rows:
                owners = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float16)
                matrix = matrix.reshape(len(rows), -1).astype(np.float32)
                index = faiss.IndexFlatIP(matrix.shape[1])
                index.add(matrix)
            else:
                owners, index = np.zeros(0, dtype=np.int64), None
            loaded = (generation, index, owners)
            if self._sentence_index is None or self._sentence_index[0] <= generation:
                self._sentence_index = loaded
            return loaded

    def vectors(self, chunk_ids: list[int]) -> np.ndarray:
        """Stored vectors of the given chunks, from this thread's generation (see ``reading``).

        A chunk the generation lacks means the ids came from another generation: a
        caller that did not hold one generation while it collected them.
        """
        generation, index = self._current()
        try:
            if index is None:
                raise RuntimeError("no vectors")
            return index.reconstruct(chunk_ids)
        except RuntimeError as exc:
            raise RagError(
                f"The index in {self.dir} changed while it was read (generation {generation} "
                "lacks some passages): try again."
            ) from exc

    def sentences(self, chunk_ids: Iterable[int]) -> dict[int, list[tuple[int, int, np.ndarray]]]:
        """Precomputed (start, end, vector) of each chunk's sentences, where the index has them."""
        ids = list(chunk_ids)
        out: dict[int, list[tuple[int, int, np.ndarray]]] = {}
        if not ids:
            return out
        rows = self.db.execute(
            f"SELECT chunk_id, start, end, vector FROM sentences"
            f" WHERE chunk_id IN ({','.join('?' * len(ids))}) ORDER BY chunk_id, start",
            ids,
        )
        for chunk_id, start, end, blob in rows:
            vector = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
            out.setdefault(chunk_id, []).append((start, end, vector))
        return out

    def faiss_ids(self) -> set[int]:
        """Every live id in the loaded FAISS index (for consistency checks)."""
        _, index = self._current()
        if index is None:
            return set()
        return set(index.ids().tolist())
