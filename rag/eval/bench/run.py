"""``rag bench run``: indexing throughput, question latency, peak memory and app cold start.

CaseQA's own paths are measured beside the bare libraries doing the same work; repeats
alternate ours and bare in one run (the machine is shared, so only figures taken side by
side are compared), and each heavy step runs in its own subprocess (``children``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.config import PROJECT_ROOT
from rag.errors import RagError
from rag.eval.bench.children import run_child
from rag.eval.bench.common import SCIFACT, machine, median

CHROMIUM = Path("/usr/bin/chromium")


def prepare_corpus(name: str, limit: int | None, target: Path) -> tuple[Path, list[str]]:
    """A corpus folder of real files and questions for it.

    ``scifact``: the first ``limit`` SciFact abstracts written as Markdown files
    (``# title`` then the abstract), questions are its claims. ``seed``: corpus/ and the
    seed gold questions. Any other value is a folder of files (questions: seed gold).
    """
    target.mkdir(parents=True, exist_ok=True)
    if name == "scifact":
        with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as f:
            for n, line in enumerate(f):
                if limit and n >= limit:
                    break
                row = json.loads(line)
                (target / f"{row['_id']}.md").write_text(
                    f"# {row.get('title') or ''}\n\n{row['text']}\n", encoding="utf-8"
                )
        with open(SCIFACT / "queries.jsonl", encoding="utf-8") as f:
            questions = [json.loads(line)["text"] for line in f if line.strip()]
        return target, questions
    source = PROJECT_ROOT / "corpus" if name == "seed" else Path(name)
    if not source.is_dir():
        raise RagError(f"{source}: no such corpus folder")
    files = sorted(p for p in source.iterdir() if p.is_file())
    for f in files[:limit] if limit else files:
        shutil.copy(f, target / f.name)
    if (source / "catalog.json").exists():
        shutil.copy(source / "catalog.json", target / "catalog.json")
    gold = PROJECT_ROOT / "eval" / "seed_gold.jsonl"
    questions = [json.loads(x)["question"] for x in gold.read_text().splitlines() if x.strip()]
    return target, questions


def app_cold_start(
    index_dir: Path,
    corpus: Path,
    questions: list[str],
    backend: str,
    warm: int = 5,
    timeout_s: float = 180,
) -> dict:
    """``streamlit run app.py`` from a cold process to an answer on screen, in Chromium;
    then ``warm`` more questions in the same page, each timed from Enter to its answer.

    The browser starts first (its launch is the user's, not the app's); the clock starts
    just before the server process. Phases: server healthy, question box shown, answer shown.
    A warm answer counts as shown when the answer box holds other text than before, so the
    questions must have distinct answers.
    """
    from playwright.sync_api import sync_playwright

    from rag.eval.server import streamlit_app

    if not CHROMIUM.exists():
        raise RagError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    env = {"RAG_INDEX_DIR": str(index_dir), "RAG_CORPUS_DIR": str(corpus), "RAG_BACKEND": backend}
    result: dict = {"method": "Playwright + /usr/bin/chromium (headless)"}
    with sync_playwright() as p, tempfile.TemporaryFile() as log:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless=new", "--no-sandbox"]
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(timeout_s * 1000)
            t0 = time.perf_counter()
            with streamlit_app(env, log, timeout_s) as url:
                result["healthy_s"] = round(time.perf_counter() - t0, 2)
                page.goto(url)
                box = page.get_by_label("Question")
                box.wait_for()
                result["question_box_s"] = round(time.perf_counter() - t0, 2)
                box.fill(questions[0])
                box.press("Enter")
                answer = page.locator(".cq-answer").first
                answer.wait_for()
                result["first_answer_s"] = round(time.perf_counter() - t0, 2)
                result.update(_warm_answers(page, box, answer, questions[1 : 1 + warm]))
        finally:
            browser.close()
    return result


def _warm_answers(page, box, answer, questions: list[str]) -> dict:
    """Each question typed into the open page, timed from Enter to its answer shown."""
    warm_s = []
    for question in questions:
        before = answer.inner_text()
        box.fill(question)
        t1 = time.perf_counter()
        box.press("Enter")
        page.wait_for_function(
            "prev => { const e = document.querySelector('.cq-answer');"
            " return e !== null && e.innerText !== prev; }",
            arg=before,
        )
        warm_s.append(time.perf_counter() - t1)
    if not warm_s:
        return {}
    return {
        "warm_answer_s": [round(x, 3) for x in warm_s],
        "warm_answer_s_median": round(median(warm_s), 3),
    }


@dataclass
class RunConfig:
    corpus: str
    limit: int | None
    backend: str
    device: str
    batch: int
    repeats: int
    questions: int
    question_repeats: int
    app: bool


def bench_run(cfg: RunConfig) -> dict:
    """Indexing throughput, question latency, peak memory and app cold start, in one run."""
    out: dict = {"config": asdict(cfg), "machine_before": machine()}
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        corpus, questions = prepare_corpus(cfg.corpus, cfg.limit, Path(tmp) / "corpus")
        questions = questions[: cfg.questions]
        index = Path(tmp) / "index"
        common = {"device": cfg.device, "batch": cfg.batch, "backend": cfg.backend}
        out["indexing"] = _indexing(cfg.repeats, common, corpus, index)
        serve_args = {
            **common,
            "index": str(index),
            "questions": questions,
            "repeats": cfg.question_repeats,
        }
        out["latency"] = run_child("serve", serve_args)
        print(f"latency: {out['latency']}", flush=True)
        if cfg.app:
            out["app"] = _app(index, corpus, questions, cfg.backend)
            print(f"app: {out['app']}", flush=True)
    out["machine_after"] = machine()
    out["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return out


def _indexing(repeats: int, common: dict, corpus: Path, index: Path) -> dict:
    """``sync`` from scratch and the bare library encoding the same texts, alternating."""
    syncs, bares = [], []
    for rep in range(repeats):
        order = ["sync", "bare"] if rep % 2 == 0 or not syncs else ["bare", "sync"]
        for step in order:
            if step == "sync":
                args = {**common, "corpus": str(corpus), "index": str(index)}
                syncs.append(run_child("sync", args))
            else:
                bares.append(run_child("bare_encode", {**common, "index": str(index)}))
            print(f"rep {rep} {step}: {(syncs if step == 'sync' else bares)[-1]}", flush=True)
    chunks = syncs[-1]["chunks"]
    texts = bares[-1]["chunks"] + bares[-1]["sentences"]
    sync_s = median([s["seconds"] for s in syncs])
    bare_s = median([b["seconds"] for b in bares])
    return {
        "documents": syncs[-1]["documents"],
        "chunks": chunks,
        "texts_embedded": texts,
        "sync_seconds_median": sync_s,
        "sync_embed_seconds_median": median([s["embed_seconds"] for s in syncs]),
        "bare_encode_seconds_median": bare_s,
        "sync_passages_per_s": round(chunks / sync_s, 2),
        "bare_passages_per_s": round(chunks / bare_s, 2),
        "bare_texts_per_s": round(texts / bare_s, 2),
        "ratio_sync_over_bare": round(bare_s / sync_s, 3),
        "sync_peak_rss_mb_median": median([s["peak_rss_mb"] for s in syncs]),
        "bare_peak_rss_mb_median": median([b["peak_rss_mb"] for b in bares]),
        "model_load_seconds_median": median([s["load_seconds"] for s in syncs]),
        "runs": {"sync": syncs, "bare": bares},
    }


def _app(index: Path, corpus: Path, questions: list[str], backend: str) -> dict:
    """The app's cold start beside a bare cold process (import, load, encode, search)."""
    bare_cold = [
        run_child("bare_cold", {"index": str(index), "question": questions[0], "backend": backend})
        for _ in range(2)
    ]
    app = app_cold_start(index, corpus, questions, backend)
    app["bare_cold_process_s"] = median([b["process_seconds"] for b in bare_cold])
    app["bare_cold_peak_rss_mb"] = bare_cold[-1]["peak_rss_mb"]
    return app
