"""Retrieval metrics from ranx, latency percentiles, and answers scored against gold."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from rag.documents import Answer, Hit
from rag.eval.gold import GoldQuestion, passage_id

METRICS = (
    "ndcg@10",
    "recall@1",
    "recall@5",
    "recall@10",
    "recall@100",
    "mrr@10",
    "map",
    "hit_rate@1",
    "hit_rate@5",
    "hit_rate@10",
)
RECALL_CUTOFFS = (1, 5, 10, 100)
ANSWER_METRICS = (
    "answer_correct",
    "citation_precision",
    "answered_rate",
    "abstention_precision",
    "abstention_recall",
)


def ir_scores(
    qrels: dict[str, dict[str, int]],
    run: dict[str, dict[str, float]],
    metrics: Iterable[str] = METRICS,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean and per-query values from ranx; a judged query missing from the run scores 0."""
    from ranx import Qrels, Run, evaluate

    metrics = list(metrics)
    if not qrels:
        return {m: float("nan") for m in metrics}, {m: {} for m in metrics}
    ranx_run = Run({q: dict(run.get(q, {})) for q in qrels})
    means = evaluate(Qrels(qrels), ranx_run, metrics, make_comparable=True)
    if not isinstance(means, dict):
        means = {metrics[0]: means}
    per_query = {m: {q: float(v) for q, v in ranx_run.scores[m].items()} for m in metrics}
    return {m: float(v) for m, v in means.items()}, per_query


def ranked_run(ids: list[str]) -> dict[str, float]:
    """Scores that keep the retriever's order exactly (1/rank: no ties for ranx to break)."""
    return {i: 1.0 / r for r, i in enumerate(ids, start=1)}


def best_hit_per_doc(hits: list[Hit]) -> list[Hit]:
    """Each document once, at the rank of its best chunk (hits come best first)."""
    seen: dict[str, Hit] = {}
    for h in hits:
        seen.setdefault(h.chunk.doc_id, h)
    return list(seen.values())


def clean(value: float | None) -> float | None:
    """None for a missing or NaN figure (NaN is not JSON, and reads as n/a)."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def latency_summary(values_ms: list[float], name: str) -> dict[str, float | None]:
    if not values_ms:
        return {f"latency_{name}_p50_ms": None, f"latency_{name}_p95_ms": None}
    p50, p95 = np.percentile(values_ms, [50, 95])
    return {
        f"latency_{name}_p50_ms": round(float(p50), 2),
        f"latency_{name}_p95_ms": round(float(p95), 2),
    }


def _share(num: int, den: int) -> float | None:
    return num / den if den else None


def answer_metrics(rows: list[dict]) -> dict[str, float | None]:
    """Answer-level shares over gold rows (see ``score_answer`` for the per-row fields).

    Citation precision is pooled over the citations of answerable questions; answers to
    unanswerable questions are judged by the abstention figures instead.
    """
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    abstained = [r for r in rows if r["abstained"]]
    cited = [c for r in answerable for c in r["citations"]]
    return {
        "answer_correct": _share(sum(r["answer_correct"] for r in answerable), len(answerable)),
        "citation_precision": _share(sum(c["relevant"] for c in cited), len(cited)),
        "answered_rate": _share(sum(not r["abstained"] for r in answerable), len(answerable)),
        "abstention_precision": _share(sum(not r["answerable"] for r in abstained), len(abstained)),
        "abstention_recall": _share(sum(r["abstained"] for r in unanswerable), len(unanswerable)),
    }


def score_answer(q: GoldQuestion, answer: Answer) -> dict:
    """Per-question answer fields: is the first cited sentence right, which citations hold up.

    Without ``answer_contains`` the first citation counts as right when it comes from a
    relevant document.
    """
    citations = [
        {
            "n": c.n,
            "passage": passage_id(c.hit.chunk),
            "sentence": c.sentence,
            "relevant": q.passage_relevant(c.hit.chunk.doc_id, c.hit.chunk.text),
        }
        for c in answer.citations
    ]
    precision = (
        sum(c["relevant"] for c in citations) / len(citations)
        if citations and q.answerable
        else None
    )
    return {
        "answer": answer.text,
        "abstained": answer.abstained,
        "confidence": answer.confidence,
        "answer_correct": _first_correct(q, answer),
        "citation_precision": precision,
        "citations": citations,
    }


def _first_correct(q: GoldQuestion, answer: Answer) -> int | None:
    """1 or 0 for an answerable question's first cited sentence; None when unanswerable."""
    if not q.answerable:
        return None
    first = answer.citations[0] if answer.citations and not answer.abstained else None
    if first is None:
        return 0
    if q.answer_contains:
        return int(q.contains_answer(first.sentence))
    return int(first.hit.chunk.doc_id in q.relevant)
