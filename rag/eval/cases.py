"""Scoring case cards against hand-written gold cards, and similar cases against
patient summaries (``rag eval --cards GOLD``, ``rag eval --similar SUMMARIES``).

A stated field is right when the card fills it with the gold value (age, sex) or quotes a
sentence that holds the gold quote (or most of its words), or one of the gold card's
``also`` quotes: the other sentences that state the same field of the same patient (a
second operation, another investigation), since a card quotes one sentence a field and
either would be right. The share right on the first gold quote alone is kept beside it.
An unstated field is wrongly filled whenever the card fills it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from rag.documents import CardField, CaseCard
from rag.errors import RagError

QUOTE_OVERLAP = 0.6  # share of the gold quote's words a quoted sentence must hold
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class CardScore:
    stated: int = 0
    correct: int = 0
    correct_first_quote: int = 0  # right on the gold card's first quote alone
    unstated: int = 0
    filled: int = 0
    by_field: dict[str, list[int]] = field(default_factory=dict)  # name -> [right, stated]
    misses: list[dict] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.stated if self.stated else 0.0

    @property
    def first_quote_accuracy(self) -> float:
        return self.correct_first_quote / self.stated if self.stated else 0.0

    @property
    def fill_rate(self) -> float:
        return self.filled / self.unstated if self.unstated else 0.0


def read_jsonl(path: Path) -> list[dict]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError) as exc:
        raise RagError(f"{path}: cannot read it as JSON lines ({exc})") from exc


def field_right(name: str, gold: dict, got: CardField | None, also: bool = True) -> bool:
    """Whether ``got`` fills the field as the gold card does (with ``also``: as any of its
    quotes does)."""
    if got is None:
        return False
    if name in ("age", "sex"):
        return str(got.value).lower() == str(gold.get("value")).lower()
    quotes = [gold["quote"], *(gold.get("also") or [])] if also else [gold["quote"]]
    return any(_quotes(quote, got.quote) for quote in quotes)


def _quotes(gold: str, quoted: str) -> bool:
    """The quoted sentence holds the gold quote, lies within it, or has most of its words."""
    gold, quoted = gold.lower(), quoted.lower()
    if gold in quoted or quoted in gold:
        return True
    want = _WORD.findall(gold)
    have = set(_WORD.findall(quoted))
    return bool(want) and sum(w in have for w in want) / len(want) >= QUOTE_OVERLAP


def score_cards(gold: list[dict], cards: list[CaseCard]) -> CardScore:
    """Every gold card against the card read for the same document and patient."""
    by_key = {(c.doc_id, c.patient): c for c in cards}
    score = CardScore()
    for row in gold:
        card = by_key.get((row["doc_id"], row.get("patient", 1)))
        got = card.fields if card else {}
        for name, want in row["fields"].items():
            have = got.get(name)
            if want is None:
                score.unstated += 1
                score.filled += have is not None
                if have is not None:
                    score.misses.append(
                        {"doc_id": row["doc_id"], "field": name, "filled": have.quote}
                    )
                continue
            right = field_right(name, want, have)
            score.stated += 1
            score.correct += right
            score.correct_first_quote += field_right(name, want, have, also=False)
            tally = score.by_field.setdefault(name, [0, 0])
            tally[0] += right
            tally[1] += 1
            if not right:
                score.misses.append(
                    {"doc_id": row["doc_id"], "field": name, "gold": want,
                     "got": None if have is None else have.quote}
                )  # fmt: skip
    return score


def score_similar(rows: list[dict], pipeline, k: int = 3) -> dict:
    """Share of summaries whose own case comes first, and within the first ``k``."""
    first = top = 0
    misses = []
    for row in rows:
        _, matches = pipeline.similar(row["summary"], k)
        ranked = [m.card.doc_id for m in matches]
        first += bool(ranked) and ranked[0] == row["doc_id"]
        top += row["doc_id"] in ranked[:k]
        if not ranked or ranked[0] != row["doc_id"]:
            misses.append({"id": row["id"], "want": row["doc_id"], "got": ranked})
    n = len(rows) or 1
    return {"summaries": len(rows), "first": first / n, f"top{k}": top / n, "misses": misses}


def format_card_score(score: CardScore) -> str:
    lines = [
        f"stated fields right   {score.accuracy:.1%} ({score.correct}/{score.stated}; "
        f"on the first gold quote alone {score.first_quote_accuracy:.1%}, "
        f"{score.correct_first_quote})",
        f"unstated fields filled {score.fill_rate:.1%} ({score.filled}/{score.unstated})",
    ]
    for name, (right, total) in sorted(score.by_field.items()):
        lines.append(f"  {name:<15} {right}/{total}")
    return "\n".join(lines)


def run_cases(kind: str, path: Path, settings, corpora: list[Path], cache=None, progress=None):
    """``rag eval --cards`` / ``--similar``: cards read into a cached index of ``corpora``."""
    from dataclasses import replace

    from rag.eval.cache import corpus_index
    from rag.pipeline import Pipeline

    rows = read_jsonl(path)
    settings = replace(settings, case_cards=True)
    if corpora:
        settings = corpus_index(corpora, settings, cache, progress)
    pipeline = Pipeline(settings)
    if kind == "cards":
        return score_cards(rows, pipeline.cards())
    return score_similar(rows, pipeline)
