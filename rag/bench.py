"""Benchmarks: CaseQA's own paths measured beside the bare libraries doing the same work.

    python -m rag.bench run --corpus scifact --limit 300   # indexing, latency, memory, app
    python -m rag.bench encode                             # backends x batch sizes
    python -m rag.bench ndcg --backends torch onnx-int8    # nDCG@10 on SciFact per backend
    python -m rag.bench report                             # eval/bench/RESULTS.md

Every figure is a median over repeats that alternate ours and bare in one run (the
machine is shared, so only figures taken side by side are compared), and each heavy
step runs in its own subprocess so its peak RSS is its own (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rag.config import PROJECT_ROOT, Settings, load_settings
from rag.embedding import BACKENDS, Embedder, embedder_for, model_dimension
from rag.errors import RagError

BENCH_DIR = PROJECT_ROOT / "eval" / "bench"
SCIFACT = Path("/work/shared/benchmarks/scifact-dev")
CHROMIUM = Path("/usr/bin/chromium")
BATCH_SIZES = (4, 8, 16, 32, 64)


# -- shared helpers --------------------------------------------------------------------------
def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def median(values: list[float]) -> float:
    return round(float(statistics.median(values)), 4)


def pct(values_ms: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values_ms), q)), 2)


def resolve_device(device: str) -> str:
    """``auto`` means the GPU when torch sees one."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def machine() -> dict:
    from rag.eval.machine import machine_info

    return {**machine_info(), "loadavg": [round(x, 2) for x in os.getloadavg()]}


def embedded_texts(index_dir: Path, settings: Settings) -> tuple[list[str], list[str]]:
    """What ``rag.indexing.embed_staged`` gave the model for this index, read back from it.

    Chunk texts with their "title. section." prefix, then each distinct sentence text.
    """
    from rag.chunking import embed_prefix
    from rag.store import CATALOG

    db = sqlite3.connect(index_dir / CATALOG)
    rows = db.execute(
        "SELECT c.chunk_id, c.text, c.section, d.title FROM chunks c JOIN documents d"
        " USING (doc_key) ORDER BY c.chunk_id"
    ).fetchall()
    chunks = [
        (embed_prefix(title, section) + text) if settings.embed_prefix else text
        for _, text, section, title in rows
    ]
    texts = {cid: text for cid, text, _, _ in rows}
    spans = db.execute("SELECT chunk_id, start, end FROM sentences ORDER BY chunk_id, start")
    sentences = list(dict.fromkeys(texts[c][a:b] for c, a, b in spans))
    db.close()
    return chunks, sentences


class TimedEmbedder(Embedder):
    """The real Embedder, also adding up the seconds spent inside ``encode``."""

    seconds = 0.0
    texts = 0
    characters = 0

    def encode(self, texts, progress=None):
        self.texts += len(texts)
        self.characters += sum(len(t) for t in texts)
        t0 = time.perf_counter()
        try:
            return super().encode(texts, progress=False)
        finally:
            self.seconds += time.perf_counter() - t0


def bare_encoder(model_dir: Path, backend: str, device: str):
    """``encode(texts, batch_size)`` as a user of the bare library for this backend writes it.

    torch: ``SentenceTransformer.encode``. ONNX: the same ONNX file under a plain
    ``InferenceSession``, texts in sentence-transformers' order (longest first by
    characters), padded per batch, mean-pooled and normalised.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if backend == "torch":
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(model_dir), device=device)
        return lambda texts, batch_size=32: model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True
        )
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from rag.embedding import max_seq_length, onnx_model_path

    session = ort.InferenceSession(
        str(onnx_model_path(model_dir, quantized=backend == "onnx-int8")),
        providers=["CPUExecutionProvider"],
    )
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_seq_length(model_dir))
    tokenizer.enable_padding()

    def encode(texts: list[str], batch_size: int = 32) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), model_dimension(model_dir)), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer.encode_batch([texts[i] for i in idx])
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feeds = {
                "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": mask,
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
            }
            hidden = session.run(None, feeds)[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / m.sum(axis=1)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out

    return encode


# -- child processes (one measurement each, JSON on stdout) -----------------------------------
def child_sync(a: dict) -> dict:
    """The real ``rag.indexing.sync`` from scratch, with the model loaded beforehand."""
    from rag.indexing import sync

    settings = load_settings(index_dir=Path(a["index"]), device=a["device"])
    t0 = time.perf_counter()
    embedder = TimedEmbedder(settings.model_path, settings.device, a["batch"], a["backend"])
    embedder.encode(["warm up"])
    load = time.perf_counter() - t0
    embedder.seconds = 0.0
    t0 = time.perf_counter()
    report = sync([Path(a["corpus"])], settings, rebuild=True, embedder=embedder)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "embed_seconds": embedder.seconds,
        "texts_embedded": embedder.texts - 1,  # less the warm-up
        "characters_embedded": embedder.characters - len("warm up"),
        "load_seconds": load,
        "documents": report.documents,
        "chunks": report.chunks,
        "failed": len(report.failed),
        "peak_rss_mb": peak_rss_mb(),
    }


def child_bare_encode(a: dict) -> dict:
    """The bare library (same backend) encoding exactly the texts the index embedded."""
    settings = load_settings(device=a["device"], backend=a["backend"])
    chunks, sentences = embedded_texts(Path(a["index"]), settings)
    t0 = time.perf_counter()
    encode = bare_encoder(settings.model_path, settings.backend, settings.device)
    encode(["warm up"])
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    encode(chunks + sentences, a["batch"])
    return {
        "seconds": time.perf_counter() - t0,
        "load_seconds": load,
        "chunks": len(chunks),
        "sentences": len(sentences),
        "characters": sum(len(t) for t in chunks + sentences),
        "peak_rss_mb": peak_rss_mb(),
    }


def child_serve(a: dict) -> dict:
    """Question latency: Pipeline.search and .ask beside encode + FAISS + FTS5, interleaved.

    Peak RSS is read after the pipeline has answered every question once, before the
    bare comparison loads a second copy of the model.
    """
    import faiss

    from rag.pipeline import Pipeline
    from rag.store import CATALOG, faiss_path
    from rag.terms import fts_query

    settings = load_settings(index_dir=Path(a["index"]), device=a["device"], backend=a["backend"])
    questions: list[str] = a["questions"]
    t0 = time.perf_counter()
    embedder = embedder_for(settings)
    pipeline = Pipeline(settings, embedder)
    pipeline.warm_up()
    load = time.perf_counter() - t0
    for q in questions:  # untimed pass: steady state, and the serving peak
        pipeline.ask(q)
    serving_rss = peak_rss_mb()

    encode = bare_encoder(settings.model_path, settings.backend, settings.device)
    index = faiss.read_index(str(faiss_path(settings.index_dir, pipeline.store.generation)))
    db = sqlite3.connect(settings.index_dir / CATALOG, check_same_thread=False)
    depth = max(settings.candidates, settings.k)

    def bare(q: str) -> None:
        v = encode([q])
        index.search(np.asarray(v, dtype=np.float32), min(depth, index.ntotal))
        db.execute(
            "SELECT rowid, bm25(chunks_fts, 1.0, 0.5) AS s FROM chunks_fts"
            " WHERE chunks_fts MATCH ? ORDER BY s LIMIT ?",
            (fts_query(q), depth),
        ).fetchall()

    bare(questions[0])
    runs = {
        "bare": bare,
        "search": lambda q: pipeline.search(q),
        "ask": lambda q: pipeline.ask(q),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for rep in range(a["repeats"]):
        for i, q in enumerate(questions):
            shift = (i + rep) % len(names)
            for name in names[shift:] + names[:shift]:  # rotate who goes first
                embedder._query_cache.cache_clear()  # every call encodes its question
                t = time.perf_counter()
                runs[name](q)
                times[name].append((time.perf_counter() - t) * 1000)
    return {
        "load_seconds": load,
        "serving_peak_rss_mb": serving_rss,
        "questions": len(questions),
        "repeats": a["repeats"],
        "faiss_omp_threads": faiss.omp_get_max_threads(),
        **{
            name: {"p50_ms": pct(v, 50), "p95_ms": pct(v, 95), "mean_ms": round(np.mean(v), 2)}
            for name, v in times.items()
        },
    }


def child_bare_cold(a: dict) -> dict:
    """Cold process to first result with the bare libraries: the floor for app start-up."""
    t0 = time.perf_counter()
    import faiss

    from rag.store import CATALOG
    from rag.terms import fts_query

    settings = load_settings(index_dir=Path(a["index"]), backend=a["backend"])
    gen = sqlite3.connect(settings.index_dir / CATALOG).execute(
        "SELECT value FROM manifest WHERE key='generation'"
    )
    index = faiss.read_index(str(settings.index_dir / f"vectors.{gen.fetchone()[0]}.faiss"))
    v = bare_encoder(settings.model_path, settings.backend, "cpu")([a["question"]])
    index.search(np.asarray(v, dtype=np.float32), 10)
    sqlite3.connect(settings.index_dir / CATALOG).execute(
        "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT 10",
        (fts_query(a["question"]),),
    ).fetchall()
    return {"seconds_in_process": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()}


CHILDREN = {
    "sync": child_sync,
    "bare_encode": child_bare_encode,
    "serve": child_serve,
    "bare_cold": child_bare_cold,
}


def run_child(task: str, args: dict, timeout: float = 3600) -> dict:
    """Run one measurement in a fresh interpreter; its last stdout line is the JSON result."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "rag.bench", "_child", task, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=os.environ | {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RagError(f"bench child {task} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_seconds"] = time.perf_counter() - t0
    return out


# -- corpora ---------------------------------------------------------------------------------
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


# -- app cold start ----------------------------------------------------------------------------
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

    from rag.ui.server import streamlit_app

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
                warm_s = []
                for question in questions[1 : 1 + warm]:
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
                if warm_s:
                    result["warm_answer_s"] = [round(x, 3) for x in warm_s]
                    result["warm_answer_s_median"] = round(median(warm_s), 3)
        finally:
            browser.close()
    return result


# -- the run command -----------------------------------------------------------------------------
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
        syncs, bares = [], []
        for rep in range(cfg.repeats):
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
        out["indexing"] = {
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
        serve_args = {
            **common,
            "index": str(index),
            "questions": questions,
            "repeats": cfg.question_repeats,
        }
        out["latency"] = run_child("serve", serve_args)
        print(f"latency: {out['latency']}", flush=True)
        if cfg.app:
            bare_cold = [
                run_child(
                    "bare_cold",
                    {"index": str(index), "question": questions[0], "backend": cfg.backend},
                )
                for _ in range(2)
            ]
            out["app"] = app_cold_start(index, corpus, questions, cfg.backend)
            out["app"]["bare_cold_process_s"] = median([b["process_seconds"] for b in bare_cold])
            out["app"]["bare_cold_peak_rss_mb"] = bare_cold[-1]["peak_rss_mb"]
            print(f"app: {out['app']}", flush=True)
    out["machine_after"] = machine()
    out["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return out


# -- encoding backends and batch sizes ---------------------------------------------------------
def padding_ratios(texts: list[str], model_dir: Path, batch: int) -> dict:
    """Padded / real word pieces per batch for three orders: as given, by characters
    (what sentence-transformers does), and by exact token count (the ONNX encoder)."""
    from tokenizers import Tokenizer

    from rag.embedding import max_seq_length

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(max_seq_length(model_dir))
    tok.no_padding()
    lengths = np.array([len(e.ids) for e in tok.encode_batch(texts)])

    def ratio(order) -> float:
        padded = sum(
            lengths[order[i : i + batch]].max() * len(order[i : i + batch])
            for i in range(0, len(order), batch)
        )
        return round(float(padded / lengths.sum()), 3)

    return {
        "unsorted": ratio(np.arange(len(texts))),
        "by_characters": ratio(np.argsort([-len(t) for t in texts], kind="stable")),
        "by_tokens": ratio(np.argsort(-lengths, kind="stable")),
        "mean_tokens": round(float(lengths.mean()), 1),
    }


def bench_encode(
    backends: list[str], batch_sizes: list[int], limit: int, repeats: int, device: str
) -> dict:
    """Passages/s of each backend at each batch size on real ~200-token chunks, interleaved."""
    from rag.chunking import TokenCounter, chunk_document
    from rag.eval.beir import read_corpus
    from rag.indexing import chunk_texts_for_embedding

    settings = load_settings(device=device)
    counter = TokenCounter(settings.model_path)
    chunks: list[str] = []
    for doc in itertools.islice(read_corpus(SCIFACT / "corpus.jsonl"), limit):
        pieces = chunk_document(
            doc, counter, settings.chunk_tokens, settings.overlap_tokens, settings.embed_prefix
        )
        chunks += chunk_texts_for_embedding(doc, pieces, settings)
    embedders = {b: Embedder(settings.model_path, device, 32, b) for b in backends}
    reference = embedders[backends[0]].encode(chunks[:64], progress=False)
    agreement = {}
    for b, e in embedders.items():
        v = e.encode(chunks[:64], progress=False)  # also loads and warms each backend
        agreement[b] = round(float((v * reference).sum(axis=1).min()), 5)
    import torch

    times: dict[tuple[str, int], list[float]] = {}
    # onnx-int8 runs one text per call whatever the batch size (see rag/embedding.py).
    combos = [(b, bs) for b in backends for bs in ([1] if b == "onnx-int8" else batch_sizes)]
    for rep in range(repeats):
        for b, bs in combos[rep % len(combos) :] + combos[: rep % len(combos)]:
            e = embedders[b]
            e.batch_size = bs
            t0 = time.perf_counter()
            e.encode(chunks, progress=False)
            times.setdefault((b, bs), []).append(time.perf_counter() - t0)
            print(f"{b} batch {bs}: {len(chunks) / times[(b, bs)][-1]:.1f} passages/s", flush=True)
    sweep = [
        {
            "backend": b,
            "batch_size": bs,
            "seconds_median": median(t),
            "passages_per_s": round(len(chunks) / statistics.median(t), 2),
        }
        for (b, bs), t in times.items()
    ]
    best = {
        b: max((s for s in sweep if s["backend"] == b), key=lambda s: s["passages_per_s"])
        for b in backends
    }
    first = embedders[backends[0]].model
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "passages": len(chunks),
        "padding": {bs: padding_ratios(chunks, settings.model_path, bs) for bs in batch_sizes},
        "st_interleaves_batches": bool(getattr(first, "_can_flatten_inputs", lambda: False)()),
        "min_cosine_vs_first_backend": agreement,
        "sweep": sweep,
        "best": best,
        "speedup_vs_torch": {
            b: round(best[b]["passages_per_s"] / best["torch"]["passages_per_s"], 3)
            for b in backends
        }
        if "torch" in best
        else {},
    }


def bench_ndcg(backends: list[str], modes: list[str], device: str) -> dict:
    """nDCG@10 on SciFact through the evaluator, each backend indexing its own cache."""
    from rag.eval.beir import load_beir
    from rag.eval.cache import DEFAULT_CACHE, READY, cached_index
    from rag.eval.running import evaluate_beir
    from rag.pipeline import Pipeline

    dataset = load_beir(SCIFACT)
    settings = load_settings(device=device)
    out: dict = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(), "runs": []}
    for backend in backends:
        # The cache key includes the backend: each shares the evaluator's own cache.
        backend_settings = settings.with_overrides(backend=backend)
        embedder = embedder_for(backend_settings)
        t0 = time.perf_counter()
        indexed = cached_index(dataset, backend_settings, embedder, DEFAULT_CACHE)
        built = json.loads((indexed.index_dir / READY).read_text())
        for mode in modes:
            pipeline = Pipeline(indexed.with_overrides(mode=mode), embedder)
            result = evaluate_beir(pipeline, dataset)
            row = {
                "backend": backend,
                "mode": mode,
                "ndcg@10": round(result.metrics["ndcg@10"], 4),
                "recall@10": round(result.metrics["recall@10"], 4),
                "index_seconds": built["seconds"],
                "index_chunks": built["chunks"],
                "cache": str(indexed.index_dir),
                "open_or_build_s": round(time.perf_counter() - t0, 1),
                **{k: v for k, v in result.metrics.items() if k.startswith("latency")},
            }
            out["runs"].append(row)
            print(json.dumps(row), flush=True)
    return out


def onnx_verdict(encode: dict, ndcg: dict) -> dict:
    """The rule: ONNX int8 becomes the default only if >= 1.8x faster and loses < 0.005.

    The loss that decides is the default retrieval mode's (what users get); the other
    modes' losses are reported beside it.
    """
    speed = encode.get("speedup_vs_torch", {}).get("onnx-int8")
    by = {(r["backend"], r["mode"]): r["ndcg@10"] for r in ndcg.get("runs", [])}
    losses = {
        mode: round(by[("torch", mode)] - by[("onnx-int8", mode)], 4)
        for (b, mode) in by
        if b == "torch" and ("onnx-int8", mode) in by
    }
    loss = losses.get(Settings.mode)
    ok = speed is not None and loss is not None and speed >= 1.8 and loss < 0.005
    return {
        "speedup": speed,
        "decided_on_mode": Settings.mode,
        "ndcg_loss_by_mode": losses,
        "make_default": ok,
    }


# -- report ----------------------------------------------------------------------------------------
def _load(name: str) -> dict:
    path = BENCH_DIR / name
    return json.loads(path.read_text()) if path.exists() else {}


def _fastest(indexing: dict, who: str) -> float:
    """Passages/s of the fastest run: on a shared machine, the least disturbed one."""
    return round(indexing["chunks"] / min(r["seconds"] for r in indexing["runs"][who]), 2)


def results_markdown() -> str:
    from rag.scale import markdown as scale_markdown

    run, enc, ndcg, scale = (
        _load(n) for n in ("bench.json", "encode.json", "ndcg.json", "scale.json")
    )
    m = run.get("machine_before") or enc.get("machine") or {}
    lines = [
        "# Performance and scale results",
        "",
        f"Machine: {m.get('cpus')} cores ({m.get('cpu')}), {m.get('platform')}, Python "
        f"{m.get('python')}; shared with other jobs (load averages are quoted per run). "
        "Ours and the bare library were measured side by side in each run, alternating; "
        "figures are medians. Regenerate with `python -m rag.bench report`.",
        "",
    ]
    if run:
        c, ix, lat = run["config"], run["indexing"], run["latency"]
        lines += [
            f"## 1. Indexing, questions, memory, app start ({run['date']})",
            "",
            f"`python -m rag.bench run --corpus {c['corpus']}"
            + (f" --limit {c['limit']}" if c["limit"] else "")
            + f" --backend {c['backend']} --repeats {c['repeats']}` — {ix['documents']} "
            f"documents, {ix['chunks']} passages, {ix['texts_embedded']} texts embedded "
            f"(passages with prefix + distinct sentences); load average before "
            f"{run['machine_before']['loadavg']}, after {run['machine_after']['loadavg']}.",
            "",
            "| what | CaseQA | bare library | ratio |",
            "|---|---:|---:|---:|",
            f"| indexing, passages/s end to end (parse, clean, chunk, embed, write) vs the "
            f"bare library encoding the same texts | {ix['sync_passages_per_s']} | "
            f"{ix['bare_passages_per_s']} | {ix['ratio_sync_over_bare']} |",
            f"| indexing, fastest of the {c['repeats']} runs, passages/s (least disturbed by "
            f"other jobs) | {_fastest(ix, 'sync')} | {_fastest(ix, 'bare')} | "
            f"{round(_fastest(ix, 'sync') / _fastest(ix, 'bare'), 3)} |",
            f"| of which embedding, s (median) | {ix['sync_embed_seconds_median']} | "
            f"{ix['bare_encode_seconds_median']} | |",
            f"| indexing peak RSS, MB | {ix['sync_peak_rss_mb_median']} | "
            f"{ix['bare_peak_rss_mb_median']} | |",
            f"| question, retrieval p50 / p95 ms (`Pipeline.search` vs encode + FAISS + FTS5) | "
            f"{lat['search']['p50_ms']} / {lat['search']['p95_ms']} | {lat['bare']['p50_ms']} / "
            f"{lat['bare']['p95_ms']} | {round(lat['search']['p50_ms'] / lat['bare']['p50_ms'], 2)}"
            " |",
            f"| question, full answer p50 / p95 ms (`Pipeline.ask`) | {lat['ask']['p50_ms']} / "
            f"{lat['ask']['p95_ms']} | {lat['bare']['p50_ms']} / {lat['bare']['p95_ms']} | "
            f"{round(lat['ask']['p50_ms'] / lat['bare']['p50_ms'], 2)} |",
            f"| serving process peak RSS, MB (model + index, every question answered) | "
            f"{lat['serving_peak_rss_mb']} | | |",
        ]
        if "app" in run:
            a = run["app"]
            lines += [
                f"| app cold start to first answer on screen, s ({a['method']}; healthy "
                f"{a['healthy_s']} s, question box {a['question_box_s']} s) vs a bare cold "
                f"process (import, load model and index, encode, FAISS, FTS5) | "
                f"{a['first_answer_s']} | {a['bare_cold_process_s']:.2f} | "
                f"{round(a['first_answer_s'] / a['bare_cold_process_s'], 2)} |",
            ]
            if "warm_answer_s_median" in a:
                lines.append(
                    f"| a warm question in the same page, Enter to answer shown, s (median of "
                    f"{len(a['warm_answer_s'])}) | {a['warm_answer_s_median']} | | |"
                )
        other = _load("bench-torch.json")  # the same run with the reference backend
        if other:
            oc, ox, ol = other["config"], other["indexing"], other["latency"]
            lines += [
                f"| with `--backend {oc['backend']}` ({other['date']}, {ox['documents']} "
                f"documents, load {other['machine_before']['loadavg']}): indexing passages/s "
                f"median; fastest | {ox['sync_passages_per_s']}; {_fastest(ox, 'sync')} | "
                f"{ox['bare_passages_per_s']}; {_fastest(ox, 'bare')} | "
                f"{ox['ratio_sync_over_bare']}; "
                f"{round(_fastest(ox, 'sync') / _fastest(ox, 'bare'), 3)} |",
                f"| with `--backend {oc['backend']}`: retrieval / answer p50 ms | "
                f"{ol['search']['p50_ms']} / {ol['ask']['p50_ms']} | {ol['bare']['p50_ms']} | "
                f"{round(ol['search']['p50_ms'] / ol['bare']['p50_ms'], 2)} / "
                f"{round(ol['ask']['p50_ms'] / ol['bare']['p50_ms'], 2)} |",
            ]
        lines.append("")
    if enc:
        lines += [
            f"## 2. Embedding backends ({enc['date']})",
            "",
            f"`python -m rag.bench encode` — {enc['passages']} SciFact passages "
            f"(mean {enc['padding'][next(iter(enc['padding']))]['mean_tokens']} word pieces), "
            f"device {enc['device']}, torch threads {enc['torch_threads']}, load average "
            f"{enc['machine']['loadavg']}. Minimum cosine to the torch vectors: "
            + ", ".join(f"{b} {v}" for b, v in enc["min_cosine_vs_first_backend"].items())
            + ".",
            "",
            "| backend | batch size | passages/s (median) |",
            "|---|---:|---:|",
        ]
        for s in enc["sweep"]:
            size = "1 (one text per call)" if s["backend"] == "onnx-int8" else s["batch_size"]
            lines.append(f"| {s['backend']} | {size} | {s['passages_per_s']} |")
        lines += [
            "",
            "Speed-up at each backend's best batch size: "
            + ", ".join(f"{b} {v}x" for b, v in enc["speedup_vs_torch"].items())
            + ".",
            "",
            "Padding (padded / real word pieces) by batch order — sentence-transformers sorts "
            "by characters"
            + (" and interleaves long/short batches" if enc["st_interleaves_batches"] else "")
            + "; the ONNX encoder sorts by exact token count:",
            "",
            "| batch | unsorted | by characters | by tokens |",
            "|---:|---:|---:|---:|",
        ]
        for bs, p in enc["padding"].items():
            lines.append(f"| {bs} | {p['unsorted']} | {p['by_characters']} | {p['by_tokens']} |")
        lines.append("")
    if ndcg:
        lines += [
            f"### nDCG@10 on SciFact-dev per backend ({ndcg['date']})",
            "",
            "`python -m rag.bench ndcg` (the evaluator's `evaluate_beir`; each backend "
            "indexes the corpus itself):",
            "",
            "| backend | mode | nDCG@10 | Recall@10 | index build s | retrieval p50 ms |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for r in ndcg["runs"]:
            lines.append(
                f"| {r['backend']} | {r['mode']} | {r['ndcg@10']} | {r['recall@10']} | "
                f"{r['index_seconds']} | {r.get('latency_retrieval_p50_ms', '')} |"
            )
        if enc:
            v = onnx_verdict(enc, ndcg)
            lines += [
                "",
                f"**Verdict (rule: default only if >= 1.8x faster and loses < 0.005 nDCG@10):** "
                f"speed-up {v['speedup']}x, nDCG@10 loss {v['ndcg_loss_by_mode']}, decided on "
                f"the default mode ({v['decided_on_mode']}) -> "
                + ("make onnx-int8 the default." if v["make_default"] else "keep torch."),
            ]
        lines.append("")
    if scale:
        lines += [
            "## 3. Scale",
            "",
            "`python -m rag.scale --sizes 10000 100000 1000000` — vectors are real "
            "all-MiniLM-L6-v2 vectors of SciFact passages and sentences ("
            + scale["sizes"][0]["source"]
            + f"), sampled with replacement, plus Gaussian noise (sigma "
            f"{scale['sizes'][0]['noise']} per dimension) and renormalised; queries are the "
            f"{scale['sizes'][0]['queries']} SciFact claims encoded by the model, one at a time. "
            "FTS5 rows are synthetic ~150-word passages stitched from real sentences, queried "
            "with the store's SQL. In-memory MB is the process RSS growth while building "
            "(noisy for small indexes; on disk = serialized size).",
            "",
            scale_markdown(scale),
        ]
    notes = BENCH_DIR / "NOTES.md"  # hand-written reading of the figures, kept beside them
    if notes.exists():
        lines += ["", notes.read_text()]
    return "\n".join(lines)


# -- entry point -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.bench", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="indexing, question latency, memory, app cold start")
    p.add_argument("--corpus", default="scifact", help="scifact, seed, or a folder")
    p.add_argument("--limit", type=int, default=300, help="documents (0: all)")
    p.add_argument("--backend", choices=BACKENDS, default=Settings.backend)
    p.add_argument("--device", default="auto", help="cpu, cuda, or auto (GPU when present)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3, help="sync / bare encode repeats")
    p.add_argument("--questions", type=int, default=50)
    p.add_argument("--question-repeats", type=int, default=2)
    p.add_argument("--no-app", action="store_true", help="skip the browser cold start")
    p.add_argument("--out", type=Path, default=BENCH_DIR / "bench.json")
    p = sub.add_parser("encode", help="backends x batch sizes, passages/s")
    p.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    p.add_argument("--batch-sizes", type=int, nargs="+", default=list(BATCH_SIZES))
    p.add_argument("--limit", type=int, default=150, help="SciFact documents to chunk")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, default=BENCH_DIR / "encode.json")
    p = sub.add_parser("ndcg", help="nDCG@10 on SciFact for each backend")
    p.add_argument("--backends", nargs="+", choices=BACKENDS, default=["torch", "onnx-int8"])
    p.add_argument("--modes", nargs="+", default=["hybrid", "dense"])
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, default=BENCH_DIR / "ndcg.json")
    p = sub.add_parser("report", help="write eval/bench/RESULTS.md from the JSON files")
    p.add_argument("--out", type=Path, default=BENCH_DIR / "RESULTS.md")
    p = sub.add_parser("_child", help=argparse.SUPPRESS)
    p.add_argument("task", choices=sorted(CHILDREN))
    p.add_argument("args")
    args = parser.parse_args(argv)

    if args.command == "_child":
        print(json.dumps(CHILDREN[args.task](json.loads(args.args))))
        return 0
    if args.command == "report":
        args.out.write_text(results_markdown())
        print(args.out.read_text())
        return 0
    device = resolve_device(args.device)
    if args.command == "run":
        cfg = RunConfig(
            args.corpus, args.limit or None, args.backend, device, args.batch_size,
            args.repeats, args.questions, args.question_repeats, not args.no_app,
        )  # fmt: skip
        result = bench_run(cfg)
    elif args.command == "encode":
        result = bench_encode(args.backends, args.batch_sizes, args.limit, args.repeats, device)
    else:
        result = bench_ndcg(args.backends, args.modes, device)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("runs", "sweep")}, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
