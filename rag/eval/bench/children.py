"""One measurement per fresh interpreter, so each peak RSS is its own (``ru_maxrss``).

``python -m rag.eval.bench _child TASK ARGS`` runs one of ``CHILDREN`` and prints its
result as JSON on the last line of stdout.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rag.config import PROJECT_ROOT, load_settings
from rag.embedding import embedder_for
from rag.errors import RagError
from rag.eval.bench.common import pct, peak_rss_mb
from rag.eval.bench.encoders import TimedEmbedder, bare_encoder, embedded_texts


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

    settings = load_settings(index_dir=Path(a["index"]), device=a["device"], backend=a["backend"])
    questions: list[str] = a["questions"]
    t0 = time.perf_counter()
    embedder = embedder_for(settings.index)
    pipeline = Pipeline(settings, embedder)
    pipeline.warm_up()
    load = time.perf_counter() - t0
    for q in questions:  # untimed pass: steady state, and the serving peak
        pipeline.ask(q)
    serving_rss = peak_rss_mb()
    bare = _bare_search(settings, pipeline)
    bare(questions[0])
    runs = {
        "bare": bare,
        "search": lambda q: pipeline.search(q),
        "ask": lambda q: pipeline.ask(q),
    }
    times = _interleaved(runs, questions, a["repeats"], embedder)
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


def _bare_search(settings, pipeline) -> Callable[[str], None]:
    """encode + FAISS + FTS5 at the retriever's depth, on the pipeline's index generation."""
    import faiss

    from rag.store import CATALOG, faiss_path
    from rag.terms import fts_query

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

    return bare


def _interleaved(runs: dict, questions: list[str], repeats: int, embedder) -> dict:
    """Milliseconds per call of each run on each question, rotating who goes first."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for rep in range(repeats):
        for i, q in enumerate(questions):
            shift = (i + rep) % len(names)
            for name in names[shift:] + names[:shift]:  # rotate who goes first
                embedder._query_cache.cache_clear()  # every call encodes its question
                t = time.perf_counter()
                runs[name](q)
                times[name].append((time.perf_counter() - t) * 1000)
    return times


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
        [sys.executable, "-m", "rag.eval.bench", "_child", task, json.dumps(args)],
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
