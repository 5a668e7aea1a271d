"""Evaluation page: run a gold set or a BEIR folder through the shared pipeline, read failures.

The page calls the same functions as `rag eval` (``rag.eval``); the Pipeline comes
from the page-wide ``st.cache_resource`` cache, so a second run does not reload anything.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import streamlit as st

from rag.config import MODES, PROJECT_ROOT, Settings, load_settings
from rag.errors import RagError
from rag.eval.gold import load_gold
from rag.eval.metrics import RECALL_CUTOFFS
from rag.eval.report import failures, markdown_report, metric_rows
from rag.eval.results import EvalResult
from rag.eval.running import evaluate_beir, evaluate_gold

EVAL_DIR = PROJECT_ROOT / "eval"
OTHER = "Another file…"
HEADLINE = ("ndcg@10", "recall@10", "mrr@10", "answer_correct", "abstention_recall")


def gold_sets() -> list[Path]:
    return sorted(EVAL_DIR.glob("*.jsonl"))


def render() -> None:
    st.title("Evaluation")
    st.caption(
        "Score retrieval and answers against gold questions, with the same pipeline the "
        "Ask page uses. `rag eval --help` runs the same from the command line."
    )
    beir, source, split = _questions()
    settings, limit, answers = _settings_form(beir)
    if st.button("Run evaluation", type="primary", disabled=not source):
        bar = st.progress(0.0, text="Starting…")

        def progress(stage: str, done: int, total: int) -> None:
            bar.progress(min(done / total, 1.0) if total else 0.0, text=f"{stage}: {done}/{total}")

        try:
            result = _run(beir, source, split, settings, limit, answers, progress)
        except (RagError, OSError) as exc:
            bar.empty()
            st.error(str(exc), icon=":material/error:")
            return
        bar.empty()
        if result:
            st.session_state["evaluation_result"] = result
    result = st.session_state.get("evaluation_result")
    if result is not None:
        show(result)


def _questions() -> tuple[bool, str, str | None]:
    """Whether a BEIR folder is asked for, the gold file or folder, and the BEIR split."""
    kind = st.radio("Questions", ["Gold set (JSONL)", "BEIR folder"], horizontal=True)
    beir = kind == "BEIR folder"
    if beir:
        folder = st.text_input("BEIR folder", placeholder="/path/to/scifact")
        split = st.text_input("Split", placeholder="the only file in qrels/") or None
        return beir, folder.strip(), split
    names = [str(p.relative_to(PROJECT_ROOT)) for p in gold_sets()]
    choice = st.selectbox("Gold set", [*names, OTHER])
    source = st.text_input("Gold file") if choice == OTHER else str(PROJECT_ROOT / choice)
    return beir, source, None


def _settings_form(beir: bool) -> tuple[Settings, int, bool]:
    """The settings the run uses (the defaults with the form's retrieval options), the
    number of questions (0: all) and whether answers are scored."""
    with st.expander("Settings"):
        base = load_settings()
        c1, c2, c3 = st.columns(3)
        mode = c1.selectbox("Mode", list(MODES), index=0)
        k = c2.number_input("k (passages per answer)", 1, 50, base.k)
        candidates = c3.number_input("Candidates per retriever", 10, 1000, base.candidates)
        c1, c2, c3 = st.columns(3)
        rrf_k = c1.number_input("RRF k", 1, 1000, base.rrf_k)
        dense_w = c2.number_input("Dense weight", 0.0, 10.0, base.dense_weight, step=0.1)
        lexical_w = c3.number_input("Lexical weight", 0.0, 10.0, base.lexical_weight, step=0.1)
        c1, c2 = st.columns(2)
        limit = c1.number_input("Only the first N questions (0: all)", 0, 100000, 0)
        answers = c2.checkbox("Score answers (gold sets)", value=True, disabled=beir)
    settings = base.with_overrides(
        mode=mode,
        k=int(k),
        candidates=int(candidates),
        rrf_k=int(rrf_k),
        dense_weight=float(dense_w),
        lexical_weight=float(lexical_w),
    )
    return settings, int(limit), answers


def _run(
    beir: bool,
    source: str,
    split: str | None,
    settings: Settings,
    limit: int,
    answers: bool,
    progress,
) -> EvalResult | None:
    """The evaluation through the Ask page's pipeline (None: the page showed why not)."""
    from rag.ui.common import pipeline_or_error

    if beir:
        from rag.eval.beir import load_beir
        from rag.eval.cache import cached_index

        dataset = load_beir(Path(source), split)
        indexed = cached_index(dataset, settings, progress=progress)
        pipeline = pipeline_or_error(indexed)
        return pipeline and evaluate_beir(pipeline, dataset, limit or None, progress)
    questions = load_gold(Path(source))
    pipeline = pipeline_or_error(settings)
    return pipeline and evaluate_gold(
        pipeline,
        questions,
        Path(source).stem,
        answer=answers,
        limit=limit or None,
        progress=progress,
        config={"gold": source},
    )


def show(result: EvalResult) -> None:
    """Headline figures, a Recall@k chart, every metric, and the failed questions."""
    st.subheader(f"{result.name} · {result.counts.get('questions')} questions")
    headline = [m for m in HEADLINE if result.metrics.get(m) is not None]
    for col, m in zip(st.columns(len(headline) or 1), headline, strict=False):
        col.metric(m, f"{result.metrics[m]:.3f}")
    recall = {
        k: result.metrics.get(f"recall@{k}")
        for k in RECALL_CUTOFFS
        if result.metrics.get(f"recall@{k}") is not None
    }
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Recall@k**")
        chart = pd.DataFrame({"k": [f"@{k}" for k in recall], "recall": list(recall.values())})
        st.bar_chart(chart, x="k", y="recall", sort=False)
    with right:
        st.markdown("**All metrics**")
        rows = [{"metric": m, "value": v} for m, v in metric_rows(result)]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    for warning in result.warnings:
        st.warning(warning)
    fails = failures(result)
    st.markdown(f"**Failed questions ({len(fails)})**")
    if fails:
        st.dataframe(pd.DataFrame(fails), hide_index=True)
    else:
        st.success("No failures.")
    c1, c2 = st.columns(2)
    c1.download_button(
        "Download JSON",
        json.dumps(asdict(result), ensure_ascii=False, default=str),
        file_name=f"{result.name}.json",
        mime="application/json",
    )
    c2.download_button(
        "Download report (Markdown)",
        markdown_report(result),
        file_name=f"{result.name}.md",
        mime="text/markdown",
    )
