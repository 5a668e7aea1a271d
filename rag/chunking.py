"""Section-aware, sentence-aligned chunks that fit the embedding model's token window.

Tokens are counted with the model's own tokenizer (``tokenizer.json``, via the
``tokenizers`` library, so chunking does not need torch): a chunk longer than the
window would be silently truncated by the model.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rag.documents import SECTION_SEPARATOR, Chunk, Document

# Bumped when sentence splitting changes what a passage or a quote holds: cached indexes
# are named by it (``IndexSpec.key``), so an evaluation never reads spans of older rules.
SPLITTER_VERSION = 2
# Words whose trailing period does not end a sentence.
ABBREVIATIONS = frozenset(
    """al approx ca cf dr e.g eq etc fig figs i.e inc jr max mg min ml mr mrs ms no nos pp prof
    ref refs resp sr st vol vs""".split()
)
_BOUNDARY = re.compile(
    r"[.!?…]+[\"”’)\]]*(?:\d{1,3}(?:[,–-]\d{1,3})*)?(?=\s+[\"“(\[]?[A-Z0-9])|\n+"
)


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Sentence spans (absolute offsets) in ``text``; newlines always end a sentence."""
    spans: list[Span] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group(0)[0] == ".":
            before = text[start : m.start()].rsplit(None, 1)
            last = before[-1].lower().rstrip(".").lstrip("([\"“'‘") if before else ""
            if last in ABBREVIATIONS or re.fullmatch(r"[a-z]", last):
                continue  # "(Fig. 2a)", "Dr. T. Gazitt"
            if m.start() and text[m.start() - 1].isdigit() and m.group(0)[1:2].isdigit():
                continue  # a decimal ("1.9 L"), not a reference number after a sentence
        end = m.end() if not m.group(0).startswith("\n") else m.start()
        _add_span(text, start, end, offset, spans)
        start = m.end()
    _add_span(text, start, len(text), offset, spans)
    return spans


# Lines a journal prints beside the text that never answer a question.
_LISTS = re.compile(r"^\W*(?:key ?words|abbreviations)\W*:", re.I)


def quotable(sentence: str) -> bool:
    """Long enough to quote in an answer (four words or more), and not a keywords or
    abbreviations line ("**Keywords:** dog bite; sepsis")."""
    return len(re.findall(r"\w+", sentence)) >= 4 and not _LISTS.match(sentence)


def quotable_sentences(text: str) -> list[Span]:
    """The sentences of a text that an answer may quote."""
    return [s for s in split_sentences(text) if quotable(text[s.start : s.end])]


def _add_span(text: str, start: int, end: int, offset: int, spans: list[Span]) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append(Span(offset + start + lead, offset + start + lead + len(stripped)))


class TokenCounter:
    """Counts word pieces exactly as the embedding model will see them."""

    def __init__(self, model_dir: Path):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.model_dir = model_dir

    @cached_property
    def window(self) -> int:
        """Word pieces the model reads, special tokens excluded."""
        config = self.model_dir / "sentence_bert_config.json"
        max_len = json.loads(config.read_text())["max_seq_length"] if config.exists() else 256
        return max_len - 2

    def count(self, texts: list[str]) -> list[int]:
        encoded = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        return [len(e.ids) for e in encoded]

    def split_long(self, text: str, budget: int) -> list[tuple[int, int]]:
        """Character spans of pieces of ``text`` with at most ``budget`` word pieces each."""
        offsets = self.tokenizer.encode(text, add_special_tokens=False).offsets
        cuts = [offsets[i][0] for i in range(budget, len(offsets), budget)]
        bounds = [0, *cuts, len(text)]
        return [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if text[a:b].strip()]


def embed_prefix(title: str, section: str | None) -> str:
    """Context the passage text lacks on its own: the title and section heading."""
    parts = [p.strip().rstrip(".") for p in (title, section) if p and p.strip()]
    return ". ".join(parts) + ". " if parts else ""


def chunk_document(
    doc: Document,
    counter: TokenCounter,
    max_tokens: int = 200,
    overlap_tokens: int = 40,
    with_prefix: bool = True,
) -> list[Chunk]:
    """Pack whole sentences into chunks per section group, carrying a small overlap."""
    chunks: list[Chunk] = []
    offset = 0
    groups: list[tuple[str | None, list[tuple[Span, int | None]]]] = []
    for section in doc.sections:
        spans = [(s, section.page) for s in split_sentences(section.text, offset)]
        if groups and groups[-1][0] == section.heading:
            groups[-1][1].extend(spans)
        else:
            groups.append((section.heading, spans))
        offset += len(section.text) + len(SECTION_SEPARATOR)
    text = doc.text
    for heading, spans in groups:
        prefix = embed_prefix(doc.title, heading) if with_prefix else ""
        budget = min(max_tokens, counter.window) - (counter.count([prefix])[0] if prefix else 0)
        units = _fit_units(text, spans, counter, budget)
        chunks.extend(_pack(doc, text, heading, units, budget, overlap_tokens, len(chunks)))
    return chunks


def _fit_units(text, spans, counter, budget):
    """(span, page, tokens) per sentence, with over-long sentences cut into pieces."""
    counts = counter.count([text[s.start : s.end] for s, _ in spans]) if spans else []
    units = []
    for (span, page), n in zip(spans, counts, strict=True):
        if n <= budget:
            units.append((span, page, n))
            continue
        sentence = text[span.start : span.end]
        for a, b in counter.split_long(sentence, budget):
            piece = Span(span.start + a, span.start + b)
            units.append((piece, page, counter.count([text[piece.start : piece.end]])[0]))
    return units


def _pack(doc, text, heading, units, budget, overlap_tokens, first_ordinal):
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and total + units[j][2] <= budget:
            total += units[j][2]
            j += 1
        j = max(j, i + 1)
        start, end = units[i][0].start, units[j - 1][0].end
        pages = [u[1] for u in units[i:j] if u[1] is not None]
        chunks.append(
            Chunk(
                doc_id=doc.doc_id,
                ordinal=first_ordinal + len(chunks),
                text=text[start:end],
                section=heading,
                page_start=min(pages) if pages else None,
                page_end=max(pages) if pages else None,
                char_start=start,
                char_end=end,
                n_tokens=total,
            )
        )
        if j >= len(units):
            break
        # Carry trailing sentences (up to overlap_tokens) into the next chunk.
        back, carried = j, 0
        while back - 1 > i and carried + units[back - 1][2] <= overlap_tokens:
            back -= 1
            carried += units[back][2]
        if carried + units[j][2] > budget:
            back = j
        i = back
    return chunks
