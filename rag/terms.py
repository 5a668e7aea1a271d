"""The words of a question that carry evidence: what lexical search and answer scoring
match, with the stop words of clinical questions left out."""

from __future__ import annotations

import re
import sqlite3
import threading
from functools import lru_cache

# The tokenizer of the index's FTS5 table (``rag.store``): porter stems of unicode61 words.
FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"

# Words that carry no evidence in a clinical question; dropped from the lexical query.
STOPWORDS = frozenset(
    """a about after all also an and any are as at be been before being between both but by can
    case cases could did do does doing for from had has have having he her here hers him his how
    i if in into is it its may might more most much must no nor not of on or other our out over
    own patient patients report reported same she should so some such than that the their them
    then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your""".split()
)


def query_terms(question: str) -> list[str]:
    """The question's content words, lower-cased, in order, without repeats."""
    terms: list[str] = []
    for word in re.findall(r"[^\W_]+(?:[-'][^\W_]+)*", question.lower()):
        for part in word.split("-") if "-" in word else [word]:
            if part not in STOPWORDS and part not in terms and (len(part) > 1 or part.isdigit()):
                terms.append(part)
    return terms


def fts_query(terms: list[str] | str) -> str:
    """An FTS5 OR query of the terms (or of a question's terms), each quoted so FTS5 syntax
    is inert."""
    if isinstance(terms, str):
        terms = query_terms(terms)
    return " OR ".join(f'"{t}"' for t in terms)


_tokenizer_lock = threading.Lock()
_tokenizer: sqlite3.Connection | None = None


def _tokenizing() -> sqlite3.Connection:
    """An in-memory FTS5 table with the index's tokenizer (call under the lock)."""
    global _tokenizer
    if _tokenizer is None:
        db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        db.execute(f"CREATE VIRTUAL TABLE t USING fts5(text, title, tokenize = '{FTS_TOKENIZE}')")
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
        _tokenizer = db
    return _tokenizer


@lru_cache(maxsize=65536)
def index_tokens(term: str) -> tuple[str, ...]:
    """The tokens FTS5 stores for ``term`` ("studies" -> ("studi",), "crohn's" -> ("crohn",
    "s")): SQLite's own tokenizer run on an in-memory table, so that the document frequency
    of a question's words can be read from the index's vocabulary."""
    with _tokenizer_lock:
        db = _tokenizing()
        db.execute("INSERT INTO t (rowid, text) VALUES (1, ?)", (term,))
        rows = db.execute("SELECT term FROM v ORDER BY offset").fetchall()
        db.execute("DELETE FROM t")
    return tuple(r[0] for r in rows)


def token_offsets(
    rows: list[tuple[str, str]], tokens: set[str] | None
) -> list[dict[tuple[int, str], list[int]]]:
    """For each (text, title) row: where each of ``tokens`` (None: every token) occurs, as
    {(column, token): [token offsets]} (column 0 the text, 1 the title), tokenized as the
    index does."""
    out: list[dict[tuple[int, str], list[int]]] = [{} for _ in rows]
    if not rows or tokens is not None and not tokens:
        return out
    tokens = sorted(tokens) if tokens is not None else None
    where = f" WHERE term IN ({','.join('?' * len(tokens))})" if tokens else ""
    with _tokenizer_lock:
        db = _tokenizing()
        db.execute("BEGIN")
        try:
            db.executemany(
                "INSERT INTO t (rowid, text, title) VALUES (?, ?, ?)",
                [(i + 1, text, title) for i, (text, title) in enumerate(rows)],
            )
            found = db.execute(
                f"SELECT doc, col, term, offset FROM v{where}", tokens or []
            ).fetchall()
            db.execute("DELETE FROM t")
        finally:
            db.execute("COMMIT")
    columns = {"text": 0, "title": 1}
    for doc, col, term, offset in found:
        out[doc - 1].setdefault((columns[col], term), []).append(offset)
    return out
