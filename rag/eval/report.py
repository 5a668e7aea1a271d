"""Reading results: failures, the console summary, Markdown reports and tables."""

from __future__ import annotations

import math
from collections.abc import Iterable

from rag.eval.results import EvalResult

TABLE_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "latency_retrieval_p50_ms")
# Settings listed first in a report's configuration table, in this order.
REPORT_SETTINGS = (
    "mode", "k", "candidates", "rrf_k", "dense_weight", "lexical_weight", "chunk_tokens",
    "overlap_tokens", "embed_prefix", "model",
)  # fmt: skip


def failures(result: EvalResult) -> list[dict]:
    """Questions the system got wrong, with what it retrieved (or answered) instead."""
    k = result.config.get("settings", {}).get("k", 5)
    out = []
    for row in result.questions:
        reasons = _reasons(result.kind, row, k)
        if not reasons:
            continue
        top = row.get("top") or []
        out.append(
            {
                "id": row["id"],
                "question": row["question"],
                "why": "; ".join(reasons),
                "expected": _expected(result.kind, row),
                "first_relevant_rank": row["first_relevant_rank"],
                "retrieved_instead": " || ".join(
                    f"{t['passage'] if result.kind == 'gold' else t['doc_id']}: {t['text'][:120]}"
                    for t in top[:2]
                ),
                "answer": row.get("answer", ""),
            }
        )
    return out


def _reasons(kind: str, row: dict, k: int) -> list[str]:
    rank = row["first_relevant_rank"]
    if kind == "beir":
        return ["no relevant document in the top 10"] if rank is None or rank > 10 else []
    reasons = []
    if row["answerable"] and (rank is None or rank > k):
        reasons.append(f"no relevant passage in the top {k}")
    if row.get("answer_correct") == 0:
        reasons.append("abstained" if row.get("abstained") else "wrong first sentence")
    if not row["answerable"] and row.get("abstained") is False:
        reasons.append("answered an unanswerable question")
    return reasons


def _expected(kind: str, row: dict):
    expected = row["relevant"]
    if kind == "gold" and row.get("answer_contains"):
        return f"{', '.join(row['relevant'])}: {' | '.join(row['answer_contains'])}"
    if isinstance(expected, dict):
        return ", ".join(expected)
    if isinstance(expected, list):
        return ", ".join(expected) or "(unanswerable)"
    return expected


def fmt(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def metric_rows(result: EvalResult) -> list[tuple[str, str]]:
    return [(m, fmt(v, 1 if m.startswith("latency") else 4)) for m, v in result.metrics.items()]


def format_summary(result: EvalResult) -> str:
    s = result.config.get("settings", {})
    split = f", split {result.config['split']}" if "split" in result.config else ""
    head = (
        f"{result.name} ({result.kind}{split}): "
        f"{result.counts.get('questions')} questions; mode {s.get('mode')}, k {s.get('k')}, "
        f"candidates {s.get('candidates')}, rrf_k {s.get('rrf_k')}, chunk {s.get('chunk_tokens')}/"
        f"{s.get('overlap_tokens')} tokens"
    )
    width = max(len(m) for m in result.metrics) if result.metrics else 10
    lines = [head] + [f"  {m:<{width}}  {v:>9}" for m, v in metric_rows(result)]
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines)


def markdown_report(result: EvalResult, max_failures: int = 40) -> str:
    s = result.config.get("settings", {})
    lines = _report_head(result)
    lines += ["", "## Metrics", "", "| metric | value |", "|---|---:|"]
    lines += [f"| {m} | {v} |" for m, v in metric_rows(result)]
    lines += ["", "## Configuration", "", "| setting | value |", "|---|---|"]
    lines += [f"| {k} | `{s.get(k)}` |" for k in REPORT_SETTINGS if k in s]
    lines += [
        f"| {k} | `{v}` |" for k, v in s.items() if k not in REPORT_SETTINGS and k != "filters"
    ]
    fails = failures(result)
    lines += ["", f"## Failures ({len(fails)})", ""]
    if fails:
        lines += ["| id | question | why | expected | retrieved instead |", "|---|---|---|---|---|"]
        for f in fails[:max_failures]:
            cells = [f["id"], f["question"], f["why"], str(f["expected"]), f["retrieved_instead"]]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
        if len(fails) > max_failures:
            lines.append(f"\n… and {len(fails) - max_failures} more (see the JSON result).")
    if result.warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def _report_head(result: EvalResult) -> list[str]:
    machine = result.config.get("machine", {})
    code = result.config.get("code", {})
    lines = [
        f"# Evaluation: {result.name}",
        "",
        f"- Date: {result.created}",
        f"- Kind: {result.kind}"
        + (f", split `{result.config['split']}`" if "split" in result.config else ""),
        f"- Questions: {result.counts.get('questions')}"
        + "".join(f", {k} {v}" for k, v in result.counts.items() if k != "questions"),
        f"- Machine: {machine.get('cpus')} cores ({machine.get('cpu')}), {machine.get('platform')};"
        f" load average {machine.get('load_average_1min')} at the end of the run",
        f"- Code: {code.get('commit')}"
        + (" (uncommitted changes in rag/)" if code.get("dirty") else ""),
        f"- Index: `{result.config.get('index')}`",
    ]
    if result.config.get("command"):
        lines.append(f"- Command: `{result.config['command']}`")
    return lines


def markdown_table(results: list[EvalResult], metrics: Iterable[str] = TABLE_METRICS) -> str:
    """Headline metrics of several results side by side (for RESULTS.md)."""
    metrics = list(metrics)
    head = ["set", "mode", "questions", *metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * len(metrics)]
    for r in results:
        s = r.config.get("settings", {})
        cells = [r.name, str(s.get("mode")), str(r.counts.get("questions"))]
        cells += [fmt(r.metrics.get(m), 1 if m.startswith("latency") else 4) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _md_cell(text: str, width: int = 200) -> str:
    text = " ".join(str(text).split())
    text = text[:width] + ("…" if len(text) > width else "")
    return text.replace("|", "\\|")
