"""Text that repeats: lines that several documents share (a site's chrome, not an
article's sentences, which articles do not share), running headers and footers that
several pages share, and runs of words that other documents hold as lines of their own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import pairwise

NEAR_DUPLICATE_WORDS = 8  # lines this long are prose when comparing two documents
NEAR_DUPLICATE_MAX_OWNERS = 20  # a line in more documents than this is boilerplate
_PAGE_NUMBER = re.compile(r"^\s*(page\s*)?\d{1,4}(\s*(of|/)\s*\d{1,4})?\s*$", re.I)


def line_key(line: str) -> str:
    """A fingerprint that ignores case, digits and spacing, to spot repeated lines."""
    return re.sub(r"\s+", " ", re.sub(r"\d+", "0", line.strip().lower()))


def common_line_keys(key_sets: Iterable[set[str]], min_docs: int = 2) -> set[str]:
    """Line fingerprints that occur in at least ``min_docs`` different documents.

    Near-identical documents (two versions of one article) count as one: the lines they
    share are the article's, not a site's.
    """
    sets = [set(keys) for keys in key_sets]
    counts: Counter[str] = Counter()
    for group in near_duplicate_groups(sets):
        counts.update(set().union(*(sets[i] for i in group)))
    return {k for k, n in counts.items() if n >= min_docs}


def near_duplicate_groups(key_sets: list[set[str]]) -> list[list[int]]:
    """Indexes of documents grouped by near-identical text (sharing most long lines).

    Long lines (8+ words) are article prose; a line found in very many documents is a
    site's boilerplate, and says nothing about two documents being one article.
    """
    long = [{k for k in keys if len(k.split()) >= NEAR_DUPLICATE_WORDS} for keys in key_sets]
    owners: dict[str, list[int]] = {}
    for i, keys in enumerate(long):
        for k in keys:
            owners.setdefault(k, []).append(i)
    parent = list(range(len(key_sets)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, keys in enumerate(long):
        shared: Counter[int] = Counter()
        for k in keys:
            if len(owners[k]) <= NEAR_DUPLICATE_MAX_OWNERS:
                shared.update(j for j in owners[k] if j > i)
        for j, n in shared.items():
            if n >= 0.8 * min(len(keys), len(long[j])):
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(key_sets)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def strip_running_lines(pages: list[str]) -> list[str]:
    """Drop page numbers and headers/footers repeated on many pages (first/last 2 lines)."""
    if len(pages) < 3:
        return [_drop_page_numbers(p) for p in pages]
    edge_counts: Counter[str] = Counter()
    for page in pages:
        lines = [x for x in page.splitlines() if x.strip()]
        edge_counts.update({line_key(x) for x in lines[:2] + lines[-2:]})
    threshold = max(2, len(pages) // 2)
    running = {k for k, n in edge_counts.items() if n >= threshold}
    cleaned = []
    for page in pages:
        lines = page.splitlines()
        nonblank = [i for i, x in enumerate(lines) if x.strip()]
        edges = set(nonblank[:2] + nonblank[-2:])
        kept = [x for i, x in enumerate(lines) if not (i in edges and line_key(x) in running)]
        cleaned.append(_drop_page_numbers("\n".join(kept)))
    return cleaned


def _drop_page_numbers(page: str) -> str:
    return "\n".join(x for x in page.splitlines() if not _PAGE_NUMBER.match(x))


def key_starts(keys: Iterable[str]) -> dict[str, list[list[str]]]:
    """Line fingerprints of four words or more, as word lists, by their first word."""
    starts: dict[str, list[list[str]]] = {}
    for key in keys:
        if len(key.split()) >= 4:
            starts.setdefault(key.split()[0], []).append(key.split())
    return starts


def around_repeated(
    text: str, starts: dict[str, list[list[str]]], key: Callable[[str], str]
) -> list[str]:
    """``text`` cut before and after each run of words whose fingerprint is in ``starts``."""
    tokens = text.split()
    keys = [key(t) for t in tokens]
    cuts = {0, len(tokens)}
    for i, k in enumerate(keys):
        for words_ in starts.get(k, []):
            if keys[i : i + len(words_)] == words_:
                cuts |= {i, i + len(words_)}
    return [" ".join(tokens[a:b]) for a, b in pairwise(sorted(cuts))]
