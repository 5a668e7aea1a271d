"""Lexical reads of the index: FTS5 BM25 matching, the lexical budget (pruning a
question's common terms), BM25 re-scoring of given passages, and the FTS5 vocabulary.

Mixed into ``rag.store.Store``, which provides ``db`` (this thread's connection),
``reading()`` and ``_current()`` (the generation in hand).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable

from rag.store.catalog import fts_title
from rag.terms import fts_query, index_tokens, token_counts, token_offsets

BM25_K1, BM25_B = 1.2, 0.75  # FTS5's bm25() constants
RESCORE_POOL = 1  # a pruned lexical query fetches this many x depth passages to re-score


class LexicalReads:
    """BM25 over the ``chunks_fts`` table, within a lexical budget."""

    db: sqlite3.Connection
    _df_cache: tuple[int, dict[str, int]]

    def lexical_search(
        self,
        terms: list[str],
        depth: int,
        title_weight: float = 0.5,
        budget: int = 0,
        also: Iterable[int] = (),
    ) -> list[tuple[int, float]]:
        """BM25 over chunk text and title for any of the ``terms`` (``rag.terms``).

        With a ``budget`` (postings) that the question's terms exceed, only the rarest terms
        whose document frequencies add up to at most the budget are matched (see
        :meth:`prune_terms`), ``RESCORE_POOL`` x ``depth`` passages deep, and those passages
        are ranked by the BM25 of every term (:meth:`bm25_scores`): FTS5 scores every row
        an OR query matches, so the cost of a question grows with the corpus through its
        most common words. ``also`` (the dense side's passages) joins the passages to
        re-score: a passage that matches many common terms but no rare one is found that
        way. A question within the budget runs the plain OR query.
        """
        if not terms:
            return []
        if budget:
            df = self.document_frequencies(terms)
            kept = self.prune_terms(terms, budget, df)
            known = [t for t in terms if df[t]]
            if kept != known:
                found = self._bm25_match(kept, RESCORE_POOL * depth, title_weight)
                pool = list(dict.fromkeys([i for i, _ in found] + list(also)))
                scores = self.bm25_scores(known, pool, title_weight, df)
                scores = {i: v for i, v in scores.items() if v > 0}
                order = sorted(scores, key=lambda i: -scores[i])[:depth]
                return [(i, scores[i]) for i in order]
            terms = kept
        return self._bm25_match(terms, depth, title_weight)

    def _bm25_match(
        self, terms: list[str], depth: int, title_weight: float
    ) -> list[tuple[int, float]]:
        if not terms:
            return []
        rows = self.db.execute(
            "SELECT rowid, bm25(chunks_fts, 1.0, ?) AS s FROM chunks_fts WHERE chunks_fts MATCH ?"
            " ORDER BY s LIMIT ?",
            (title_weight, fts_query(terms), depth),
        )
        return [(int(r), -float(s)) for r, s in rows]

    def bm25_scores(
        self,
        terms: list[str],
        chunk_ids: list[int],
        title_weight: float = 0.5,
        df: dict[str, int] | None = None,
    ) -> dict[int, float]:
        """FTS5's own BM25 (``bm25(chunks_fts, 1.0, title_weight)``, k1 1.2, b 0.75) of the
        OR query of ``terms``, computed for the given chunks only: from their text and
        title tokenized as the index does, their lengths (``chunks_fts_docsize``), the
        corpus averages (``chunks_fts_data``) and the document frequencies. What a full
        query would score them, at the cost of reading those rows, however common the
        terms. A phrase's frequency ("crohn's" -> "crohn s") is its rarest token's; ``df``:
        the terms' :meth:`document_frequencies` when the caller has them."""
        if not chunk_ids:
            return {}
        rows_total, column_totals = self._fts_averages()
        avgdl = sum(column_totals) / max(rows_total, 1)
        df = df if df is not None else self.document_frequencies(terms)
        phrases = [(index_tokens(t), df[t]) for t in terms]
        texts, sizes = self._fts_rows(chunk_ids)
        ids = [i for i in chunk_ids if i in texts]
        wanted = {t for p, _ in phrases for t in p}
        counts = token_counts([texts[i] for i in ids], wanted)
        weights = (1.0, title_weight)
        out = {}
        for chunk_id, count in zip(ids, counts, strict=True):
            length = sizes.get(chunk_id, 0)
            offsets = None
            score = 0.0
            for tokens, hits in phrases:
                if len(tokens) == 1:
                    freq = sum(weights[col] * count.get((col, tokens[0]), 0) for col in (0, 1))
                elif any(all(count.get((col, t)) for t in tokens) for col in (0, 1)):
                    # A phrase: its words in a row (rare in questions: "crohn's", "5-0").
                    if offsets is None:
                        offsets = token_offsets([texts[chunk_id]], wanted)[0]
                    freq = sum(
                        weights[col] * _phrase_count(offsets, col, tokens)
                        for col in (0, 1)
                        if weights[col]
                    )
                else:
                    freq = 0
                if freq:
                    score += _bm25_term(freq, hits, rows_total, length, avgdl)
            out[chunk_id] = score
        return out

    def _fts_rows(self, chunk_ids: list[int]) -> tuple[dict[int, tuple[str, str]], dict[int, int]]:
        """The FTS row (text, title) and token count of each chunk."""
        marks = ",".join("?" * len(chunk_ids))
        # The FTS row's text and title are the chunk's text and ``fts_title``; read from the
        # catalog's B-trees, faster than FTS5's content.
        texts = {
            r[0]: (r[1], fts_title(r[2], r[3]))
            for r in self.db.execute(
                "SELECT c.chunk_id, c.text, d.title, c.section FROM chunks c"
                f" JOIN documents d USING (doc_key) WHERE c.chunk_id IN ({marks})",
                chunk_ids,
            )
        }
        sizes = {
            r[0]: sum(_varints(r[1]))
            for r in self.db.execute(
                f"SELECT id, sz FROM chunks_fts_docsize WHERE id IN ({marks})", chunk_ids
            )
        }
        return texts, sizes

    def passage_count(self) -> int:
        """Passages in the lexical index of this thread's snapshot (one small record)."""
        return self._fts_averages()[0]

    def budget_applies(self, budget: int, budget_from: int) -> bool:
        """Whether a lexical ``budget`` prunes questions on this index: only from
        ``budget_from`` passages on (``lexical_budget_from``)."""
        return bool(budget) and self.passage_count() >= budget_from

    def _fts_averages(self) -> tuple[int, list[int]]:
        """Rows in the FTS5 table and tokens per column: its averages record (id 1)."""
        row = self.db.execute("SELECT block FROM chunks_fts_data WHERE id = 1").fetchone()
        values = _varints(row[0]) if row and row[0] else [0]
        return values[0], values[1:]

    def document_frequencies(self, terms: list[str]) -> dict[str, int]:
        """Passages that hold each term's rarest token, read from the FTS5 vocabulary of
        this thread's snapshot. Cached per generation: the count costs a pass over the
        token's posting list, and only a commit changes it."""
        generation, _ = self._current()
        cache = self._df_cache
        if cache[0] != generation:
            cache = self._df_cache = (generation, {})
        counts = cache[1]
        out = {}
        for term in terms:
            tokens = index_tokens(term)
            for token in tokens:
                if token not in counts:
                    row = self.db.execute(
                        "SELECT doc FROM temp.chunks_vocab WHERE term = ?", (token,)
                    ).fetchone()
                    counts[token] = int(row[0]) if row else 0
            out[term] = min((counts[t] for t in tokens), default=0)
        return out

    def warm_vocabulary(self) -> int:
        """Read every token's document frequency of the current generation at once (one
        pass over the whole FTS5 index: 4 s at 1M passages), so that no question pays for
        counting a common token's postings; returns the number of tokens."""
        try:
            with self.reading():
                generation, _ = self._current()
                counts = dict(self.db.execute("SELECT term, doc FROM temp.chunks_vocab"))
        except sqlite3.Error:  # a damaged catalog: the question that reads it will say so
            return 0
        self._df_cache = (generation, counts)
        return len(counts)

    def prune_terms(
        self, terms: list[str], budget: int, df: dict[str, int] | None = None
    ) -> list[str]:
        """The rarest ``terms`` whose document frequencies (``df``, else read) add up to at
        most ``budget``, in their question order; the rarest one always, and none the index
        lacks."""
        df = df if df is not None else self.document_frequencies(terms)
        kept, total = set(), 0
        for term in sorted((t for t in terms if df[t]), key=lambda t: df[t]):
            if kept and total + df[term] > budget:
                break
            kept.add(term)
            total += df[term]
        return [t for t in terms if t in kept]

    def texts_containing(self, word: str, limit: int = 50) -> list[str]:
        """Texts of chunks that contain ``word`` (for corpus-derived query expansion)."""
        rows = self.db.execute(
            "SELECT text FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?", (f'"{word}"', limit)
        )
        return [r[0] for r in rows]

    def known_share(self, terms: list[str]) -> float:
        """Share of the ``terms`` that occur anywhere in the index."""
        if not terms:
            return 0.0
        known = sum(
            self.db.execute(
                "SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT 1", (f'"{t}"',)
            ).fetchone()
            is not None
            for t in terms
        )
        return known / len(terms)


def _varints(blob: bytes) -> list[int]:
    """SQLite varints (as FTS5 writes its averages and document sizes)."""
    out, i = [], 0
    while i < len(blob):
        value = 0
        for j in range(9):
            byte = blob[i]
            i += 1
            if j == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        out.append(value)
    return out


def _phrase_count(offsets: dict[tuple[int, str], list[int]], col: int, tokens) -> int:
    """Occurrences of the phrase ``tokens`` (consecutive offsets) in one column."""
    first = offsets.get((col, tokens[0]), [])
    if len(tokens) == 1:
        return len(first)
    rest = [set(offsets.get((col, t), ())) for t in tokens[1:]]
    return sum(all(o + k + 1 in r for k, r in enumerate(rest)) for o in first)


def _bm25_term(freq: float, hits: int, rows_total: int, length: int, avgdl: float) -> float:
    """One term's BM25 share, as FTS5 computes it (a negative idf becomes 1e-6)."""
    idf = math.log((rows_total - hits + 0.5) / (hits + 0.5))
    idf = idf if idf > 0 else 1e-6
    return idf * freq * (BM25_K1 + 1) / (freq + BM25_K1 * (1 - BM25_B + BM25_B * length / avgdl))
