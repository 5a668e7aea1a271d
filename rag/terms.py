"""The words of a question that carry evidence: what lexical search and answer scoring
match, with the stop words of clinical questions left out."""

from __future__ import annotations

import bisect
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


_WORD = re.compile(r"[^\W_]+")
_word_tokens: dict[str, tuple[str, ...]] = {}
WORD_CACHE = 1 << 20  # distinct words whose tokens are remembered


def words_tokens(words: set[str]) -> dict[str, tuple[str, ...]]:
    """:func:`index_tokens` of many words in one pass of the tokenizer."""
    if not words:
        return {}
    order = sorted(words)
    with _tokenizer_lock:
        db = _tokenizing()
        db.execute("BEGIN")
        try:
            db.executemany(
                "INSERT INTO t (rowid, text) VALUES (?, ?)", list(enumerate(order, start=1))
            )
            rows = db.execute("SELECT doc, term FROM v ORDER BY doc, offset").fetchall()
            db.execute("DELETE FROM t")
        finally:
            db.execute("COMMIT")
    out: dict[str, list[str]] = {w: [] for w in order}
    for doc, term in rows:
        out[order[doc - 1]].append(term)
    return {w: tuple(t) for w, t in out.items()}


def token_offsets(
    rows: list[tuple[str, str]], tokens: set[str] | None
) -> list[dict[tuple[int, str], list[int]]]:
    """For each (text, title) row: where each of ``tokens`` (None: every token) occurs, as
    {(column, token): [token offsets]} (column 0 the text, 1 the title), tokenized as the
    index does: words split as unicode61 splits them, each word's tokens from SQLite's own
    tokenizer (:func:`index_tokens`, remembered per word)."""
    out: list[dict[tuple[int, str], list[int]]] = [{} for _ in rows]
    cache = _word_tokens
    for found, row in zip(out, rows, strict=True):
        for col, text in enumerate(row):
            at = 0
            for word in _WORD.findall(text):
                toks = cache.get(word)
                if toks is None:
                    toks = index_tokens(word)
                    if len(cache) < WORD_CACHE:
                        cache[word] = toks
                for t in toks:
                    if tokens is None or t in tokens:
                        found.setdefault((col, t), []).append(at)
                    at += 1
    return out


def _char_start(data: bytes, at: int) -> int:
    """Where the UTF-8 character before byte ``at`` starts."""
    start = at - 1
    while start > 0 and 0x80 <= data[start] < 0xC0:  # continuation bytes
        start -= 1
    return start


def _letter_before(data: bytes, at: int) -> bool:
    """Whether the character before byte ``at`` of UTF-8 ``data`` is a letter or digit."""
    if data[at - 1] < 0x80:
        return data[at - 1 : at].isalnum()
    return data[_char_start(data, at) : at].decode("utf-8", "ignore").isalnum()


_LATIN_LEAD = re.compile(rb"[\xc3-\xc9][\x80-\xbf]")
_NON_ASCII_WORD = re.compile(r"[^\W_]*[^\W\x00-\x7f][^\W_]*")


def token_counts(rows: list[tuple[str, str]], tokens: set[str]) -> list[dict[tuple[int, str], int]]:
    """For each (text, title) row: how often each of ``tokens`` occurs, {(column, token):
    count}, as the index tokenizes. Only the words that can stem to one of the tokens are
    stemmed: a porter stem keeps the word's letters but for its last two at most ("abl"
    from "ability"), so a word is stemmed when it starts with the token's head (all but
    its last two letters, three at least), in any case of its ASCII letters; and so is
    every word with a non-ASCII letter (diacritics are removed, case is folded)."""
    out: list[dict[tuple[int, str], int]] = [{} for _ in rows]
    if not tokens or not rows:
        return out
    heads = sorted({t[: max(3, len(t) - 2)].encode() for t in tokens})
    fields = [field for row in rows for field in row]
    encoded = [f.encode() for f in fields]
    starts, at = [], 0
    for raw in encoded:
        starts.append(at)
        at += len(raw) + 1
    data = b"\x00".join(encoded)
    low = data.lower()  # ASCII letters only: offsets stay those of ``data``
    found_at: dict[int, str] = {}  # byte offset -> ASCII word (two heads may find one)
    for head in heads:
        at = low.find(head)
        while at >= 0:
            if at == 0 or not _letter_before(low, at):
                word = _WORD.match(data[at : at + 120].decode("utf-8", "ignore"))
                if word and word.group().isascii():  # others: found below
                    found_at[at] = word.group()
            at = low.find(head, at + 1)
    if all(t.isascii() for t in tokens):
        # A word with a non-ASCII letter yields an ASCII token only when the letter is a
        # Latin one with a diacritic ("Sjögren" -> "sjogren"): UTF-8 lead bytes C3-C9.
        for m in _LATIN_LEAD.finditer(data):
            if not m.group().decode("utf-8", "ignore").isalpha():
                continue
            at = m.start()
            while at and _letter_before(data, at):
                at = _char_start(data, at)
            word = _WORD.match(data[at : at + 120].decode("utf-8", "ignore"))
            if word:
                found_at[at] = word.group()
    words = [(bisect.bisect_right(starts, at) - 1, w) for at, w in found_at.items()]
    if not all(t.isascii() for t in tokens):
        # A Greek or other token: every word with a non-ASCII letter is a candidate.
        for field, text in enumerate(fields):
            if not text.isascii():
                words += [(field, w) for w in _NON_ASCII_WORD.findall(text)]
    cache = _word_tokens
    fresh = words_tokens({w for _, w in words if w not in cache})
    if len(cache) < WORD_CACHE:
        cache.update(fresh)
    for field, word in words:
        toks = cache.get(word) or fresh.get(word, ())
        found = out[field // 2]
        for t in toks:
            if t in tokens:
                key = (field % 2, t)
                found[key] = found.get(key, 0) + 1
    return out
