"""Running a gold set or a BEIR folder through the app's own Pipeline, and scoring it.

- a gold set (``rag.eval.gold``): relevance is judged per passage, and answers are scored
  too: first cited sentence, citation precision, abstention.
- a BEIR folder: document-level qrels. A document ranks where its best chunk ranks, so
  the retriever is asked for ``max(candidates, k)`` chunks (exactly the depth it uses in
  the app) and the chunk list is collapsed to documents in order. Query ids may equal
  document ids (PubMedQA): nothing is ever dropped for that.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.config import Settings
from rag.documents import Hit
from rag.eval.gold import GoldQuestion, gold_qrels, load_gold, passage_id
from rag.eval.machine import run_config
from rag.eval.metrics import (
    answer_metrics,
    best_hit_per_doc,
    clean,
    ir_scores,
    latency_summary,
    ranked_run,
    score_answer,
)
from rag.eval.results import EvalResult
from rag.indexing import Progress

if TYPE_CHECKING:
    from rag.embedding import Embedder

SHOWN = 10  # retrieved ids kept per question (failure tables, the report)


def eval_depth(settings: Settings) -> int:
    """The depth the retriever itself uses for ``k`` passages; deeper would change fusion."""
    return max(settings.candidates, settings.k)


def warm_up(pipeline, question: str) -> None:
    """Load the model and index, and run one untimed search, so latencies are steady-state."""
    pipeline.warm_up()
    pipeline.search(question + " warm up", k=eval_depth(pipeline.settings))


def _same_top(app_hits: list[Hit], hits: list[Hit]) -> bool:
    return [h.chunk.chunk_id for h in app_hits] == [h.chunk.chunk_id for h in hits[: len(app_hits)]]


def _mismatch_warning(n: int) -> list[str]:
    if not n:
        return []
    return [
        f"{n} questions: the app's k hits differ from the top of the deeper ranking scored "
        "here (the retriever's order depends on k)"
    ]


def _snippet(hit: Hit, width: int = 240) -> dict:
    text = " ".join(hit.chunk.text.split())
    return {
        "doc_id": hit.chunk.doc_id,
        "passage": passage_id(hit.chunk),
        "title": hit.doc.display_title if hit.doc else "",
        "section": hit.chunk.section,
        "text": text[:width] + ("…" if len(text) > width else ""),
    }


def _first_rank(ranking: list[str], relevant) -> int | None:
    return next((r for r, i in enumerate(ranking, start=1) if i in relevant), None)


def _scored(qrels: dict, run: dict[str, list[str]], rows: list[dict]) -> dict[str, float | None]:
    """ranx means over the run; each judged row gets its own per-question values."""
    means, per_query = ir_scores(qrels, {q: ranked_run(ids) for q, ids in run.items()})
    for row in rows:
        judged = row["id"] in qrels
        row["scores"] = {m: per_query[m].get(row["id"]) for m in per_query} if judged else {}
    return {m: clean(v) for m, v in means.items()}


# -- BEIR folders -------------------------------------------------------------------------
def evaluate_beir(
    pipeline,
    dataset,
    limit: int | None = None,
    progress: Progress | None = None,
    config: dict | None = None,
) -> EvalResult:
    """Run every judged query through ``pipeline.search`` and score documents with ranx.

    Latency is the app's call (k passages, query not yet cached); the ranking scored is a
    second search at ``eval_depth``, whose first k hits are the same.
    """
    settings = pipeline.settings
    depth = eval_depth(settings)
    queries = list(dataset.queries.items())[:limit] if limit else list(dataset.queries.items())
    qrels = {q: dataset.qrels[q] for q, _ in queries}
    warm_up(pipeline, queries[0][1])
    mismatched = 0
    run: dict[str, list[str]] = {}
    rows: list[dict] = []
    for n, (qid, text) in enumerate(queries, start=1):
        row, same = _beir_row(pipeline, qid, text, qrels[qid], depth)
        mismatched += not same
        run[qid] = row.pop("ranking")
        rows.append(row)
        if progress:
            progress("questions", n, len(queries))
    metrics = _scored(qrels, run, rows)
    metrics.update(latency_summary([r["latency_retrieval_ms"] for r in rows], "retrieval"))
    counts = {
        "questions": len(rows),
        "judgements": sum(len(r) for r in qrels.values()),
        "documents_per_question": round(
            float(np.mean([r["documents_retrieved"] for r in rows])), 1
        ),
        "chunks_per_question": depth,
    }
    extra = {"dataset": str(dataset.root), "split": dataset.split, "depth": depth}
    return EvalResult(
        kind="beir",
        name=dataset.name,
        config=run_config(
            settings, **extra, limit=limit, index=str(settings.index_dir), **(config or {})
        ),
        metrics=metrics,
        counts=counts,
        questions=rows,
        qrels=qrels,
        run=run,
        warnings=list(dataset.warnings) + _mismatch_warning(mismatched),
    )


def _beir_row(pipeline, qid: str, text: str, relevant: dict, depth: int) -> tuple[dict, bool]:
    """One query, timed as the app runs it, then ranked by document (under "ranking")."""
    t0 = time.perf_counter()
    app_hits = pipeline.search(text)  # timed as the app runs it: query not yet cached
    ms = (time.perf_counter() - t0) * 1000
    hits = pipeline.search(text, k=depth)
    docs = best_hit_per_doc(hits)
    ranking = [h.chunk.doc_id for h in docs]
    row = {
        "id": qid,
        "question": text,
        "relevant": relevant,
        "retrieved": ranking[:SHOWN],
        "first_relevant_rank": _first_rank(ranking, relevant),
        "documents_retrieved": len(ranking),
        "latency_retrieval_ms": round(ms, 2),
        "top": [_snippet(h) for h in docs[:3]],
        "ranking": ranking,
    }
    return row, _same_top(app_hits, hits)


# -- gold sets ----------------------------------------------------------------------------
def evaluate_gold(
    pipeline,
    questions: list[GoldQuestion],
    name: str,
    answer: bool = True,
    limit: int | None = None,
    progress: Progress | None = None,
    config: dict | None = None,
) -> EvalResult:
    """Retrieval metrics on passages (answerable questions) and answer metrics (all).

    Each question is asked as ``Pipeline.ask`` does (``search`` at k, then
    ``answerer.answer``), timed; a second search at ``eval_depth`` (the depth the
    retriever uses anyway) gives the ranking that the metrics score.
    """
    settings = pipeline.settings
    depth = eval_depth(settings)
    questions = questions[:limit] if limit else questions
    qrels, warnings = gold_qrels(pipeline, questions)
    warm_up(pipeline, questions[0].question)
    mismatched = 0
    run: dict[str, list[str]] = {}
    rows: list[dict] = []
    for n, q in enumerate(questions, start=1):
        row, same = _gold_row(pipeline, q, qrels.get(q.id, {}), depth, answer)
        mismatched += not same
        run[q.id] = row.pop("ranking")
        rows.append(row)
        if progress:
            progress("questions", n, len(questions))
    metrics = _scored(qrels, run, rows)
    if answer:
        metrics.update(answer_metrics(rows))
    metrics.update(latency_summary([r["latency_retrieval_ms"] for r in rows], "retrieval"))
    if answer:
        metrics.update(latency_summary([r["latency_answer_ms"] for r in rows], "answer"))
    answerable = sum(q.answerable for q in questions)
    counts = {
        "questions": len(rows),
        "answerable": answerable,
        "unanswerable": len(rows) - answerable,
        "judged_passages": sum(len(r) for r in qrels.values()),
        "chunks_per_question": depth,
    }
    extra = {"depth": depth, "limit": limit, "answers": answer}
    return EvalResult(
        kind="gold",
        name=name,
        config=run_config(settings, **extra, index=str(settings.index_dir), **(config or {})),
        metrics=metrics,
        counts=counts,
        questions=rows,
        qrels=qrels,
        run=run,
        warnings=warnings + _mismatch_warning(mismatched),
    )


def _gold_row(
    pipeline, q: GoldQuestion, relevant: dict, depth: int, answer: bool
) -> tuple[dict, bool]:
    """One question asked as ``Pipeline.ask`` does, timed, then ranked by passage."""
    t0 = time.perf_counter()
    query = pipeline.query(q.question)
    app_hits = pipeline.passages(query)  # what Pipeline.ask retrieves, timed cold
    t1 = time.perf_counter()
    if answer:
        result = pipeline.answerer.answer(query, app_hits)
        t2 = time.perf_counter()
    hits = pipeline.search(q.question, k=depth)
    ranking = [passage_id(h.chunk) for h in hits]
    row = {
        "id": q.id,
        "question": q.question,
        "answerable": q.answerable,
        "relevant": q.relevant,
        "answer_contains": q.answer_contains,
        "retrieved": ranking[:SHOWN],
        "first_relevant_rank": _first_rank(ranking, relevant),
        "latency_retrieval_ms": round((t1 - t0) * 1000, 2),
        "top": [_snippet(h) for h in hits[:3]],
    }
    if answer:
        row["latency_answer_ms"] = round((t2 - t0) * 1000, 2)
        row.update(score_answer(q, result))
    row["ranking"] = ranking
    return row, _same_top(app_hits, hits)


# -- from paths ---------------------------------------------------------------------------
def run_beir(
    root: Path,
    settings: Settings,
    split: str | None = None,
    cache_root: Path | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> EvalResult:
    """Load a BEIR folder, open (or build once) its cached index, evaluate every query.

    ``embedder``: a loaded model to reuse (one per many runs, as `rag.eval.ablations` does).
    """
    from rag.embedding import embedder_for
    from rag.eval.beir import load_beir
    from rag.eval.cache import cached_index
    from rag.pipeline import Pipeline

    dataset = load_beir(root, split)
    embedder = embedder or embedder_for(settings.index)
    indexed = cached_index(dataset, settings, embedder, cache_root, progress)
    pipeline = Pipeline(indexed, embedder)
    return evaluate_beir(pipeline, dataset, limit=limit, progress=progress)


def run_gold(
    path: Path,
    settings: Settings,
    corpus: Path | None = None,
    cache_root: Path | None = None,
    answer: bool = True,
    limit: int | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> EvalResult:
    """Evaluate a gold set on the configured index, or on a cached index of ``corpus``.

    The cached index (``rag.eval.cache.corpus_index``) is what chunking ablations use,
    leaving ``index/`` alone.
    """
    from rag.eval.cache import corpus_index
    from rag.pipeline import Pipeline

    questions = load_gold(path)
    extra: dict = {"gold": str(path)}
    if corpus is not None:
        settings = corpus_index(Path(corpus), settings, cache_root, progress, embedder)
        extra["corpus"] = str(corpus)
    pipeline = Pipeline(settings, embedder)
    return evaluate_gold(
        pipeline, questions, Path(path).stem, answer, limit, progress, config=extra
    )
