"""Two saved results compared: metric deltas B - A with ranx's paired significance tests,
and the questions that moved."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rag.errors import RagError
from rag.eval.metrics import ANSWER_METRICS, METRICS
from rag.eval.report import fmt
from rag.eval.results import EvalResult


@dataclass
class MetricDelta:
    metric: str
    a: float | None
    b: float | None
    p_value: float | None
    n: int

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a


@dataclass
class QuestionDelta:
    id: str
    question: str
    a: float
    b: float


@dataclass
class Comparison:
    a: str
    b: str
    stat_test: str
    max_p: float
    by: str
    rows: list[MetricDelta]
    better: list[QuestionDelta]
    worse: list[QuestionDelta]
    notes: list[str] = field(default_factory=list)


def _per_question(result: EvalResult, metric: str) -> dict[str, float]:
    out = {}
    for row in result.questions:
        value = row.get("scores", {}).get(metric, row.get(metric))
        if isinstance(value, bool):
            value = float(value)
        if value is not None:
            out[row["id"]] = float(value)
    return out


def _answer_vectors(result: EvalResult) -> dict[str, dict[str, float]]:
    """Per-question 0/1 values behind the answer metrics that are means over questions."""
    rows = result.questions
    return {
        "answer_correct": {
            r["id"]: float(r["answer_correct"])
            for r in rows
            if r.get("answerable") and "answer_correct" in r
        },
        "answered_rate": {
            r["id"]: float(not r["abstained"])
            for r in rows
            if r.get("answerable") and "abstained" in r
        },
        "abstention_recall": {
            r["id"]: float(r["abstained"])
            for r in rows
            if r.get("answerable") is False and "abstained" in r
        },
    }


def _paired_p(a: np.ndarray, b: np.ndarray, stat_test: str, max_p: float) -> float | None:
    """The p-value of ranx's own paired tests (the ones ``ranx.compare`` runs)."""
    from ranx.statistical_tests import fisher_randomization_test, paired_student_t_test

    if len(a) < 2:
        return None
    if stat_test == "fisher":
        p, _ = fisher_randomization_test(a, b, 1000, max_p, 42)
    else:
        p, _ = paired_student_t_test(a, b, max_p)
    p = float(p)
    return None if math.isnan(p) else p


def compare_results(
    a: EvalResult,
    b: EvalResult,
    stat_test: str = "student",
    max_p: float = 0.05,
    by: str = "ndcg@10",
) -> Comparison:
    """Metric deltas B - A with paired p-values, and the questions that moved on ``by``.

    With the same qrels (same questions and judgements) the IR metrics go through
    ``ranx.compare`` on the stored runs. Passage qrels differ when chunking differs; then
    the test runs on the stored per-question scores of the questions both results share.
    """
    if stat_test not in ("student", "fisher"):
        raise RagError(f"unknown test {stat_test!r}: use student or fisher")
    if a.kind != b.kind:
        raise RagError(f"cannot compare a {a.kind} result with a {b.kind} result")
    shared = [q["id"] for q in a.questions if q["id"] in {r["id"] for r in b.questions}]
    if not shared:
        raise RagError("the two results have no question in common")
    notes: list[str] = []
    if len(shared) < max(len(a.questions), len(b.questions)):
        notes.append(f"compared on the {len(shared)} questions both results hold")
    rows = _ir_rows(a, b, stat_test, max_p, notes)
    if a.kind == "gold":
        rows += _answer_rows(a, b, stat_test, max_p)
    for m in sorted(k for k in a.metrics if k.startswith("latency") and k in b.metrics):
        rows.append(MetricDelta(m, a.metrics[m], b.metrics[m], None, 0))
    qa, qb = _per_question(a, by), _per_question(b, by)
    text = {r["id"]: r["question"] for r in a.questions}
    moved = [QuestionDelta(q, text[q], qa[q], qb[q]) for q in shared if q in qa and q in qb]
    better = sorted((d for d in moved if d.b > d.a), key=lambda d: d.a - d.b)
    worse = sorted((d for d in moved if d.b < d.a), key=lambda d: d.b - d.a)
    return Comparison(a.label, b.label, stat_test, max_p, by, rows, better, worse, notes)


def _ir_rows(
    a: EvalResult, b: EvalResult, stat_test: str, max_p: float, notes: list[str]
) -> list[MetricDelta]:
    """The IR metrics: ``ranx.compare`` on the runs under shared qrels, else per question."""
    metrics = [m for m in METRICS if m in a.metrics and m in b.metrics]
    if not (a.qrels == b.qrels and a.qrels):
        if a.qrels and b.qrels:
            notes.append("the qrels differ (other chunking?): tested on stored per-question scores")
        return [
            _paired_row(m, _per_question(a, m), _per_question(b, m), stat_test, max_p)
            for m in metrics
        ]
    from ranx import Qrels, Run, compare

    report = compare(
        Qrels(a.qrels),
        [
            Run(a.scored_run(), name="A"),
            Run(b.scored_run(), name="B"),
        ],
        metrics,
        stat_test=stat_test,
        max_p=max_p,
        make_comparable=True,
    ).to_dict()
    rows = []
    for m in metrics:
        p = report["A"]["comparisons"]["B"][m]
        rows.append(
            MetricDelta(
                m,
                report["A"]["scores"][m],
                report["B"]["scores"][m],
                None if p is None or math.isnan(p) else float(p),
                len(a.qrels),
            )
        )
    return rows


def _answer_rows(a: EvalResult, b: EvalResult, stat_test: str, max_p: float) -> list[MetricDelta]:
    """Answer metrics: paired where they are means of per-question 0/1 values."""
    va, vb = _answer_vectors(a), _answer_vectors(b)
    rows = []
    for m in ANSWER_METRICS:
        if m in va:
            rows.append(_paired_row(m, va[m], vb[m], stat_test, max_p))
        elif m in a.metrics and m in b.metrics:
            rows.append(MetricDelta(m, a.metrics[m], b.metrics[m], None, 0))
    return rows


def _paired_row(metric, a: dict[str, float], b: dict[str, float], stat_test, max_p) -> MetricDelta:
    common = [q for q in a if q in b]
    if not common:
        return MetricDelta(metric, None, None, None, 0)
    va = np.array([a[q] for q in common], dtype=np.float64)
    vb = np.array([b[q] for q in common], dtype=np.float64)
    return MetricDelta(
        metric, float(va.mean()), float(vb.mean()), _paired_p(va, vb, stat_test, max_p), len(common)
    )


def format_comparison(c: Comparison, show: int = 10) -> str:
    test = "paired Student t-test" if c.stat_test == "student" else "Fisher randomization test"
    lines = [f"A: {c.a}", f"B: {c.b}", ""]
    lines.append(f"{'metric':<26} {'A':>9} {'B':>9} {'B-A':>9} {'p':>8}   n")
    for r in c.rows:
        sig = "*" if r.p_value is not None and r.p_value < c.max_p else " "
        digits = 1 if r.metric.startswith("latency") else 4
        delta = "n/a" if r.delta is None else f"{r.delta:+.{digits}f}"
        lines.append(
            f"{r.metric:<26} {fmt(r.a, digits):>9} {fmt(r.b, digits):>9} {delta:>9}"
            f" {fmt(r.p_value, 4) if r.p_value is not None else '-':>8} {sig} {r.n or ''}"
        )
    lines.append(f"* p < {c.max_p} ({test}, paired by question)")
    lines += [f"note: {n}" for n in c.notes]
    for title, items in (("better in B", c.better), ("worse in B", c.worse)):
        lines += ["", f"{title} on {c.by}: {len(items)} questions"]
        for d in items[:show]:
            question = " ".join(d.question.split())
            lines.append(f"  {d.b - d.a:+.3f}  {d.id}  ({d.a:.3f} -> {d.b:.3f})  {question[:90]}")
        if len(items) > show:
            lines.append(f"  … and {len(items) - show} more")
    return "\n".join(lines)
