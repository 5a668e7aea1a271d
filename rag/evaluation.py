"""Score retrieval and answers through the app's own Pipeline; IR metrics come from ranx.

Two kinds of gold:

- the project's JSONL gold set (``{"id", "question", "relevant", "answer_contains",
  "answerable"}``): relevance is judged per passage. A passage is relevant when its
  document is listed and, where ``answer_contains`` is given, it holds one of those
  substrings (compared after folding case, whitespace and dash variants). Answers are
  scored too: first cited sentence, citation precision, abstention.
- a BEIR folder: document-level qrels. A document ranks where its best chunk ranks, so
  the retriever is asked for ``max(candidates, k)`` chunks (exactly the depth it uses in
  the app) and the chunk list is collapsed to documents in order. Query ids may equal
  document ids (PubMedQA): nothing is ever dropped for that.

Every number is computed from per-question values stored in the result, so two saved
results can be compared later with a paired significance test.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.config import PROJECT_ROOT, Settings
from rag.documents import Answer, Chunk, Hit
from rag.errors import RagError

if TYPE_CHECKING:
    from rag.embedding import Embedder

Progress = Callable[[str, int, int], None]
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
SHOWN = 10  # retrieved ids kept per question (failure tables, the report)
MISSING = "(no relevant passage in the index)"  # stands in so such a question scores 0
_DASHES = re.compile("[\u2010-\u2015\u2212]")


def fold(text: str) -> str:
    """Case, whitespace runs and dash variants folded, so gold substrings match cleaned text."""
    text = _DASHES.sub("-", unicodedata.normalize("NFKC", text))
    return " ".join(text.split()).casefold()


# -- gold sets --------------------------------------------------------------------------
@dataclass
class GoldQuestion:
    id: str
    question: str
    relevant: list[str]
    answer_contains: list[str] = field(default_factory=list)
    answerable: bool = True

    def contains_answer(self, text: str) -> bool:
        folded = fold(text)
        return any(fold(s) in folded for s in self.answer_contains)

    def passage_relevant(self, doc_id: str, text: str) -> bool:
        if doc_id not in self.relevant:
            return False
        return not self.answer_contains or self.contains_answer(text)


def load_gold(path: Path) -> list[GoldQuestion]:
    """Read a JSONL gold set; a malformed line is an error that names the line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RagError(f"{path}: cannot read ({exc.strerror})") from exc
    out: list[GoldQuestion] = []
    seen: set[str] = set()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            relevant = [str(d) for d in row.get("relevant") or []]
            q = GoldQuestion(
                id=str(row["id"]),
                question=str(row["question"]),
                relevant=relevant,
                answer_contains=[str(s) for s in row.get("answer_contains") or []],
                answerable=bool(row.get("answerable", bool(relevant))),
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise RagError(
                f'{path}:{n}: expected {{"id", "question", "relevant": [...], '
                f'"answer_contains": [...], "answerable": true|false}}'
            ) from exc
        if q.id in seen:
            raise RagError(f"{path}:{n}: duplicate id {q.id!r}")
        if q.answerable and not q.relevant:
            raise RagError(f"{path}:{n}: an answerable question needs its relevant documents")
        seen.add(q.id)
        out.append(q)
    if not out:
        raise RagError(f"{path}: no questions")
    return out


def passage_id(chunk: Chunk) -> str:
    """Stable across rebuilds with the same chunking (chunk_id is not)."""
    return f"{chunk.doc_id}#{chunk.ordinal}"


# -- metrics ------------------------------------------------------------------------------
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


def _ranked_ids(value: list[str] | dict[str, float]) -> list[str]:
    """Ranked ids from a stored run entry (older results stored {id: score})."""
    if isinstance(value, dict):
        return sorted(value, key=lambda i: -value[i])
    return list(value)


def best_hit_per_doc(hits: list[Hit]) -> list[Hit]:
    """Each document once, at the rank of its best chunk (hits come best first)."""
    seen: dict[str, Hit] = {}
    for h in hits:
        seen.setdefault(h.chunk.doc_id, h)
    return list(seen.values())


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
    correct = None
    if q.answerable:
        first = answer.citations[0] if answer.citations and not answer.abstained else None
        if first is None:
            correct = 0
        elif q.answer_contains:
            correct = int(q.contains_answer(first.sentence))
        else:
            correct = int(first.hit.chunk.doc_id in q.relevant)
    precision = (
        sum(c["relevant"] for c in citations) / len(citations)
        if citations and q.answerable
        else None
    )
    return {
        "answer": answer.text,
        "abstained": answer.abstained,
        "confidence": answer.confidence,
        "answer_correct": correct,
        "citation_precision": precision,
        "citations": citations,
    }


# -- results ------------------------------------------------------------------------------
@dataclass
class EvalResult:
    """Everything a report or a later comparison needs, JSON-serialisable."""

    kind: str  # "gold" | "beir"
    name: str
    config: dict
    metrics: dict[str, float | None]
    counts: dict[str, float]
    questions: list[dict]
    qrels: dict[str, dict[str, int]]
    run: dict[str, list[str]]  # ranked ids per question, best first
    warnings: list[str] = field(default_factory=list)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    @property
    def label(self) -> str:
        return f"{self.name} ({self.kind}, mode {self.config.get('settings', {}).get('mode')})"

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(asdict(self), indent=1, ensure_ascii=False, default=_json_default)
        path.write_text(data + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> EvalResult:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            data["run"] = {q: _ranked_ids(v) for q, v in data.get("run", {}).items()}
            return cls(**data)
        except OSError as exc:
            raise RagError(f"{path}: cannot read ({exc.strerror})") from exc
        except (json.JSONDecodeError, TypeError) as exc:
            raise RagError(f"{path}: not a result written by `rag eval --json`") from exc

    def write_trec(self, path: Path) -> None:
        """The run in TREC format (qid Q0 docid rank score tag), written by ranx."""
        from ranx import Run

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tag = re.sub(r"\W+", "-", f"caseqa-{self.config.get('settings', {}).get('mode', '')}")
        runs = {q: ranked_run(ids) for q, ids in self.run.items() if ids}
        Run(runs, name=tag).save(str(path), kind="trec")

    def scored_run(self) -> dict[str, dict[str, float]]:
        """The run as ranx wants it, for every judged question."""
        return {q: ranked_run(self.run.get(q, [])) for q in self.qrels}


def _json_default(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(type(value).__name__)


def _clean(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def run_config(settings: Settings, **extra) -> dict:
    """The settings, where and with what code it ran: enough to reproduce a figure."""
    config = {
        "settings": {
            k: _json_default(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()
        },
        **extra,
        "machine": machine_info(),
        "code": code_version(),
        "command": shlex.join(["rag", *sys.argv[1:]]) if _ran_as_cli() else "",
    }
    return config


def _ran_as_cli() -> bool:
    return Path(sys.argv[0]).name in ("rag", "cli.py") and "eval" in sys.argv[1:]


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    torch = sys.modules.get("torch")
    return {
        "cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads() if torch else None,
        # Latency is only comparable between runs on an otherwise idle machine.
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def code_version() -> dict:
    def git(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
            )
            return out.stdout.strip() if out.returncode == 0 else ""
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "rag")),
    }


# -- running ------------------------------------------------------------------------------
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
        t0 = time.perf_counter()
        app_hits = pipeline.search(text)  # timed as the app runs it: query not yet cached
        ms = (time.perf_counter() - t0) * 1000
        hits = pipeline.search(text, k=depth)
        mismatched += not _same_top(app_hits, hits)
        docs = best_hit_per_doc(hits)
        ranking = [h.chunk.doc_id for h in docs]
        run[qid] = ranking
        relevant = qrels[qid]
        first = next((r for r, d in enumerate(ranking, start=1) if d in relevant), None)
        rows.append(
            {
                "id": qid,
                "question": text,
                "relevant": relevant,
                "retrieved": ranking[:SHOWN],
                "first_relevant_rank": first,
                "documents_retrieved": len(ranking),
                "latency_retrieval_ms": round(ms, 2),
                "top": [_snippet(h) for h in docs[:3]],
            }
        )
        if progress:
            progress("questions", n, len(queries))
    means, per_query = ir_scores(qrels, {q: ranked_run(ids) for q, ids in run.items()})
    for row in rows:
        row["scores"] = {m: per_query[m].get(row["id"]) for m in per_query}
    latency = [r["latency_retrieval_ms"] for r in rows]
    counts = {
        "questions": len(rows),
        "judgements": sum(len(r) for r in qrels.values()),
        "documents_per_question": round(
            float(np.mean([r["documents_retrieved"] for r in rows])), 1
        ),
        "chunks_per_question": depth,
    }
    return EvalResult(
        kind="beir",
        name=dataset.name,
        config=run_config(
            settings,
            dataset=str(dataset.root),
            split=dataset.split,
            depth=depth,
            limit=limit,
            index=str(settings.index_dir),
            **(config or {}),
        ),
        metrics={
            **{m: _clean(v) for m, v in means.items()},
            **latency_summary(latency, "retrieval"),
        },
        counts=counts,
        questions=rows,
        qrels=qrels,
        run=run,
        warnings=list(dataset.warnings) + _mismatch_warning(mismatched),
    )


def gold_qrels(pipeline, questions: list[GoldQuestion]) -> tuple[dict, list[str]]:
    """Passage-level qrels: every indexed passage of a relevant document that holds the answer."""
    store = pipeline.store
    wanted = sorted({d for q in questions if q.answerable for d in q.relevant})
    chunks_by_doc: dict[str, list[Chunk]] = {}
    if wanted:
        for chunk, _doc in store.chunks(store.chunk_ids_for_docs(wanted)).values():
            chunks_by_doc.setdefault(chunk.doc_id, []).append(chunk)
    qrels: dict[str, dict[str, int]] = {}
    warnings: list[str] = []
    absent = [d for d in wanted if d not in chunks_by_doc]
    if absent:
        warnings.append(f"relevant documents not in the index: {', '.join(absent)}")
    for q in questions:
        if not q.answerable:
            continue
        rel = {
            passage_id(c): 1
            for d in q.relevant
            for c in chunks_by_doc.get(d, [])
            if q.passage_relevant(c.doc_id, c.text)
        }
        if not rel:
            warnings.append(f"{q.id}: no indexed passage of its documents holds the answer text")
            rel = {MISSING: 1}
        qrels[q.id] = rel
    return qrels, warnings


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
        t0 = time.perf_counter()
        query = pipeline.query(q.question)
        app_hits = pipeline.retriever.run(query)  # what Pipeline.ask retrieves, timed cold
        t1 = time.perf_counter()
        if answer:
            result = pipeline.answerer.answer(query, app_hits)
            t2 = time.perf_counter()
        hits = pipeline.search(q.question, k=depth)
        mismatched += not _same_top(app_hits, hits)
        ranking = [passage_id(h.chunk) for h in hits]
        run[q.id] = ranking
        relevant = qrels.get(q.id, {})
        row = {
            "id": q.id,
            "question": q.question,
            "answerable": q.answerable,
            "relevant": q.relevant,
            "answer_contains": q.answer_contains,
            "retrieved": ranking[:SHOWN],
            "first_relevant_rank": next(
                (r for r, p in enumerate(ranking, start=1) if p in relevant), None
            ),
            "latency_retrieval_ms": round((t1 - t0) * 1000, 2),
            "top": [_snippet(h) for h in hits[:3]],
        }
        if answer:
            row["latency_answer_ms"] = round((t2 - t0) * 1000, 2)
            row.update(score_answer(q, result))
        rows.append(row)
        if progress:
            progress("questions", n, len(questions))
    means, per_query = ir_scores(qrels, {q: ranked_run(ids) for q, ids in run.items()})
    for row in rows:
        row["scores"] = {m: per_query[m][row["id"]] for m in per_query if row["id"] in qrels}
    metrics: dict[str, float | None] = {m: _clean(v) for m, v in means.items()}
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
    return EvalResult(
        kind="gold",
        name=name,
        config=run_config(
            settings,
            depth=depth,
            limit=limit,
            answers=answer,
            index=str(settings.index_dir),
            **(config or {}),
        ),
        metrics=metrics,
        counts=counts,
        questions=rows,
        qrels=qrels,
        run=run,
        warnings=warnings + _mismatch_warning(mismatched),
    )


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

    ``embedder``: a loaded model to reuse (one per many runs, as `rag.ablations` does).
    """
    from rag.beir import cached_index, load_beir
    from rag.embedding import embedder_for
    from rag.pipeline import Pipeline

    dataset = load_beir(root, split)
    embedder = embedder or embedder_for(settings)
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

    The cached index (``eval/cache/corpus-<key>/``, kept in step with the folder by
    ``rag.indexing.sync``) is what chunking ablations use, leaving ``index/`` alone.
    """
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


def corpus_index(
    corpus: Path | list[Path],
    settings: Settings,
    cache_root: Path | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> Settings:
    """Settings for an index of ``corpus`` (one folder or several) cached per chunking and
    model, synced on each use."""
    import hashlib
    from dataclasses import replace

    from rag.beir import DEFAULT_CACHE
    from rag.embedding import model_id
    from rag.indexing import sync

    folders = [Path(c) for c in (corpus if isinstance(corpus, list) else [corpus])]
    for folder in folders:
        if not folder.is_dir():
            raise RagError(f"{folder}: no such folder")
    key = json.dumps(
        [
            *(str(f.resolve()) for f in folders),
            model_id(settings.model_path),
            settings.chunk_tokens,
            settings.overlap_tokens,
            settings.embed_prefix,
            settings.sentence_vectors,
            *([settings.backend] if settings.backend != "torch" else []),
        ]
    )
    folder = Path(cache_root or DEFAULT_CACHE) / (
        f"corpus-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    )
    indexed = replace(settings, index_dir=folder, corpus_dir=folders[0])
    report = sync(folders, indexed, embedder=embedder, progress=progress)
    if report.failed and not report.documents:
        raise RagError(f"{folders[0]}: nothing could be indexed ({report.failed[0][1]})")
    return indexed


# -- reading results ----------------------------------------------------------------------
def failures(result: EvalResult) -> list[dict]:
    """Questions the system got wrong, with what it retrieved (or answered) instead."""
    k = result.config.get("settings", {}).get("k", 5)
    out = []
    for row in result.questions:
        reasons = []
        if result.kind == "beir":
            rank = row["first_relevant_rank"]
            if rank is None or rank > 10:
                reasons.append("no relevant document in the top 10")
        else:
            rank = row["first_relevant_rank"]
            if row["answerable"] and (rank is None or rank > k):
                reasons.append(f"no relevant passage in the top {k}")
            if row.get("answer_correct") == 0:
                reasons.append("abstained" if row.get("abstained") else "wrong first sentence")
            if not row["answerable"] and row.get("abstained") is False:
                reasons.append("answered an unanswerable question")
        if reasons:
            expected = row["relevant"]
            if result.kind == "gold" and row.get("answer_contains"):
                expected = f"{', '.join(row['relevant'])}: {' | '.join(row['answer_contains'])}"
            elif isinstance(expected, dict):
                expected = ", ".join(expected)
            elif isinstance(expected, list):
                expected = ", ".join(expected) or "(unanswerable)"
            top = row.get("top") or []
            out.append(
                {
                    "id": row["id"],
                    "question": row["question"],
                    "why": "; ".join(reasons),
                    "expected": expected,
                    "first_relevant_rank": rank,
                    "retrieved_instead": " || ".join(
                        f"{t['passage'] if result.kind == 'gold' else t['doc_id']}: "
                        f"{t['text'][:120]}"
                        for t in top[:2]
                    ),
                    "answer": row.get("answer", ""),
                }
            )
    return out


def _fmt(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def metric_rows(result: EvalResult) -> list[tuple[str, str]]:
    return [(m, _fmt(v, 1 if m.startswith("latency") else 4)) for m, v in result.metrics.items()]


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
    lines += ["", "## Metrics", "", "| metric | value |", "|---|---:|"]
    lines += [f"| {m} | {v} |" for m, v in metric_rows(result)]
    keys = (
        "mode", "k", "candidates", "rrf_k", "dense_weight", "lexical_weight", "chunk_tokens",
        "overlap_tokens", "embed_prefix", "model",
    )  # fmt: skip
    lines += ["", "## Configuration", "", "| setting | value |", "|---|---|"]
    lines += [f"| {k} | `{s.get(k)}` |" for k in keys if k in s]
    lines += [f"| {k} | `{v}` |" for k, v in s.items() if k not in keys and k != "filters"]
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


TABLE_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "latency_retrieval_p50_ms")


def markdown_table(results: list[EvalResult], metrics: Iterable[str] = TABLE_METRICS) -> str:
    """Headline metrics of several results side by side (for RESULTS.md)."""
    metrics = list(metrics)
    head = ["set", "mode", "questions", *metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * len(metrics)]
    for r in results:
        s = r.config.get("settings", {})
        cells = [r.name, str(s.get("mode")), str(r.counts.get("questions"))]
        cells += [_fmt(r.metrics.get(m), 1 if m.startswith("latency") else 4) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _md_cell(text: str, width: int = 200) -> str:
    text = " ".join(str(text).split())
    text = text[:width] + ("…" if len(text) > width else "")
    return text.replace("|", "\\|")


# -- comparing two results ---------------------------------------------------------------
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
    metrics = [m for m in METRICS if m in a.metrics and m in b.metrics]
    rows: list[MetricDelta] = []
    if a.qrels == b.qrels and a.qrels:
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
    else:
        if a.qrels and b.qrels:
            notes.append("the qrels differ (other chunking?): tested on stored per-question scores")
        for m in metrics:
            rows.append(_paired_row(m, _per_question(a, m), _per_question(b, m), stat_test, max_p))
    if a.kind == "gold":
        va, vb = _answer_vectors(a), _answer_vectors(b)
        for m in ANSWER_METRICS:
            if m in va:
                rows.append(_paired_row(m, va[m], vb[m], stat_test, max_p))
            elif m in a.metrics and m in b.metrics:
                rows.append(MetricDelta(m, a.metrics[m], b.metrics[m], None, 0))
    for m in sorted(k for k in a.metrics if k.startswith("latency") and k in b.metrics):
        rows.append(MetricDelta(m, a.metrics[m], b.metrics[m], None, 0))
    qa, qb = _per_question(a, by), _per_question(b, by)
    text = {r["id"]: r["question"] for r in a.questions}
    moved = [QuestionDelta(q, text[q], qa[q], qb[q]) for q in shared if q in qa and q in qb]
    better = sorted((d for d in moved if d.b > d.a), key=lambda d: d.a - d.b)
    worse = sorted((d for d in moved if d.b < d.a), key=lambda d: d.b - d.a)
    return Comparison(a.label, b.label, stat_test, max_p, by, rows, better, worse, notes)


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
            f"{r.metric:<26} {_fmt(r.a, digits):>9} {_fmt(r.b, digits):>9} {delta:>9}"
            f" {_fmt(r.p_value, 4) if r.p_value is not None else '-':>8} {sig} {r.n or ''}"
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
