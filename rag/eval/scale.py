"""Scale runs: flat, HNSW and IVF-PQ (and FTS5) at 10k, 100k and 1M passages.

The vectors are real model output over real passages, multiplied with noise: the chunk
and sentence vectors of a built index (by default the SciFact BEIR cache index, tens of
thousands of real vectors) are sampled with replacement, given Gaussian noise
(``--noise`` per dimension) and renormalised. Queries are the SciFact claims encoded
by the model. Recall@10 of an approximate index is measured against flat on the same
vectors. The FTS5 table holds synthetic passages stitched from real sentences (about
150 words, like a chunk), queried with the store's own SQL.

    python -m rag.scale --sizes 10000 100000 1000000 --out eval/bench/scale.json

Each size merges into the JSON file, so sizes can run as separate commands.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sqlite3
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rag.config import PROJECT_ROOT, load_settings
from rag.errors import RagError, run_as_script
from rag.vector_index import IndexParams, VectorIndex, choose_kind

BENCH_DIR = PROJECT_ROOT / "eval" / "bench"
SCIFACT = Path("/work/shared/benchmarks/scifact-dev")
EFFORTS = {"hnsw": (16, 32, 64, 128, 256), "ivfpq": (8, 16, 32, 64, 128)}


@dataclass
class IndexRun:
    """One index type at one size: what it cost to build, hold and query."""

    kind: str
    size: int
    build_s: float
    disk_mb: float
    rss_mb: float  # resident memory the built index added to the process
    effort: int  # efSearch / nprobe the headline figures use (0: flat)
    p50_ms: float
    p95_ms: float
    recall_at_10: float
    sweep: list[dict] = field(default_factory=list)  # effort -> p50, p95, recall


@dataclass
class FtsRun:
    size: int
    build_s: float
    disk_mb: float
    p50_ms: float
    p95_ms: float
    mean_matches: float  # rows matching the OR query (what bm25 must score)


# -- inputs ----------------------------------------------------------------------------------
@dataclass
class Source:
    vectors: np.ndarray  # real unit vectors (chunks and sentences)
    sentences: list[str]
    titles: list[str]
    queries: list[str]
    query_vectors: np.ndarray
    origin: str


def load_source(index_dir: Path | None, beir: Path = SCIFACT) -> Source:
    """Real vectors and texts from a built index, and the benchmark's questions encoded."""
    from rag.embedding import embedder_for
    from rag.eval.beir import load_beir
    from rag.eval.cache import cached_index
    from rag.store import CATALOG, Store, faiss_path

    settings = load_settings()
    dataset = load_beir(beir)
    if index_dir is None:
        index_dir = cached_index(dataset, settings).index_dir  # builds once, then cached
    store = Store(index_dir)
    vi = VectorIndex.read(faiss_path(index_dir, store.generation))
    _, chunk_vectors = vi.vectors()
    db = sqlite3.connect(index_dir / CATALOG)
    texts = dict(db.execute("SELECT chunk_id, text FROM chunks"))
    sentence_vectors, sentences = [], []
    for chunk_id, start, end, blob in db.execute(
        "SELECT chunk_id, start, end, vector FROM sentences"
    ):
        sentence_vectors.append(np.frombuffer(blob, dtype=np.float16))
        sentences.append(texts[chunk_id][start:end])
    titles = [t for (t,) in db.execute("SELECT title FROM documents") if t]
    vectors = np.vstack([chunk_vectors, np.asarray(sentence_vectors, dtype=np.float32)])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = list(dataset.queries.values())
    embedder = embedder_for(settings.index)
    return Source(
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        sentences=sentences,
        titles=titles or ["untitled"],
        queries=queries,
        query_vectors=embedder.encode(queries, progress=False),
        origin=f"{index_dir} ({len(chunk_vectors)} chunk + {len(sentences)} sentence vectors)",
    )


def synthetic_vectors(base: np.ndarray, size: int, noise: float, seed: int = 0) -> np.ndarray:
    """``size`` unit vectors: real ones sampled with replacement, plus noise, renormalised.

    Built in blocks so 1M x 384 needs its 1.5 GB and little more.
    """
    rng = np.random.default_rng(seed)
    out = np.empty((size, base.shape[1]), dtype=np.float32)
    block = 100_000
    for start in range(0, size, block):
        n = min(block, size - start)
        x = base[rng.integers(0, len(base), n)]
        x = x + rng.standard_normal(x.shape, dtype=np.float32) * np.float32(noise)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[start : start + n] = x
    return out


def rss_mb() -> float:
    """Current resident memory of this process (not the peak)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def percentiles(values_ms: list[float]) -> tuple[float, float]:
    a = np.asarray(values_ms)
    return round(float(np.percentile(a, 50)), 3), round(float(np.percentile(a, 95)), 3)


def timed_queries(index: VectorIndex, queries: np.ndarray, k: int = 10) -> tuple[list, np.ndarray]:
    """One question at a time, as the app asks them; returns per-query ms and the ids."""
    times, found = [], []
    index.search(queries[:1], k)  # warm caches
    for q in queries:
        t0 = time.perf_counter()
        _, ids = index.search(q[None, :], k)
        times.append((time.perf_counter() - t0) * 1000)
        found.append(ids[0])
    return times, np.asarray(found)


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    return round(
        float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])),
        4,
    )


# -- runs ------------------------------------------------------------------------------------
def run_index(
    kind: str,
    vectors: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray | None,
    params: IndexParams,
    workdir: Path,
) -> tuple[IndexRun, np.ndarray]:
    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    index = VectorIndex.new(vectors.shape[1], kind, len(vectors), params)
    index.add(vectors, np.arange(len(vectors), dtype=np.int64))
    build = time.perf_counter() - t0
    held = rss_mb() - before
    path = workdir / f"{kind}.faiss"
    index.write(path)
    disk = path.stat().st_size / 2**20
    path.unlink()
    sweep = []
    headline = index.effort
    for effort in EFFORTS.get(kind, (0,)):
        index.effort = effort
        times, found = timed_queries(index, queries)
        p50, p95 = percentiles(times)
        rec = 1.0 if truth is None else recall_at(found, truth)
        sweep.append({"effort": effort, "p50_ms": p50, "p95_ms": p95, "recall_at_10": rec})
    index.effort = headline
    times, found = timed_queries(index, queries)
    p50, p95 = percentiles(times)
    run = IndexRun(
        kind=kind,
        size=len(vectors),
        build_s=round(build, 2),
        disk_mb=round(disk, 1),
        rss_mb=round(held, 1),
        effort=headline,
        p50_ms=p50,
        p95_ms=p95,
        recall_at_10=1.0 if truth is None else recall_at(found, truth),
        sweep=sweep if kind != "flat" else [],
    )
    del index
    gc.collect()
    return run, found


def run_fts(size: int, source: Source, workdir: Path, seed: int = 0) -> FtsRun:
    """An FTS5 table shaped like the store's, of ``size`` passages stitched from real text."""
    from rag.terms import FTS_TOKENIZE, fts_query

    rng = np.random.default_rng(seed)
    path = workdir / f"fts-{size}.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        f"CREATE VIRTUAL TABLE chunks_fts USING fts5(text, title, tokenize = '{FTS_TOKENIZE}')"
    )
    sentences, titles = source.sentences, source.titles

    def passages(n: int):
        for _ in range(n):
            words, parts = 0, []
            while words < 150:
                s = sentences[rng.integers(len(sentences))]
                parts.append(s)
                words += s.count(" ") + 1
            yield (" ".join(parts), titles[rng.integers(len(titles))])

    t0 = time.perf_counter()
    db.execute("BEGIN")
    db.executemany("INSERT INTO chunks_fts (text, title) VALUES (?, ?)", passages(size))
    db.execute("COMMIT")
    db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
    build = time.perf_counter() - t0
    disk = path.stat().st_size / 2**20
    sql = (
        "SELECT rowid, bm25(chunks_fts, 1.0, 0.5) AS s FROM chunks_fts WHERE chunks_fts MATCH ?"
        " ORDER BY s LIMIT 100"
    )
    queries = [fts_query(q) for q in source.queries if fts_query(q)]
    db.execute(sql, (queries[0],)).fetchall()
    times, matches = [], []
    for q in queries:
        t = time.perf_counter()
        db.execute(sql, (q,)).fetchall()
        times.append((time.perf_counter() - t) * 1000)
    for q in queries[:20]:
        matches.append(
            db.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (q,)).fetchone()[
                0
            ]
        )
    db.close()
    for p in workdir.glob(f"fts-{size}.sqlite*"):
        p.unlink()
    p50, p95 = percentiles(times)
    return FtsRun(
        size, round(build, 2), round(disk, 1), p50, p95, round(float(np.mean(matches)), 1)
    )


def run_size(
    size: int,
    source: Source,
    kinds: list[str],
    params: IndexParams,
    noise: float,
    fts: bool,
    workdir: Path,
) -> dict:
    vectors = synthetic_vectors(source.vectors, size, noise)
    queries = source.query_vectors
    runs: list[IndexRun] = []
    truth = None
    for kind in ["flat", *[k for k in kinds if k != "flat"]]:
        run, found = run_index(kind, vectors, queries, truth, params, workdir)
        if kind == "flat":
            truth = found
            if "flat" not in kinds:
                continue
        runs.append(run)
        print(
            f"{size:>9} {kind:<6} build {run.build_s:7.1f} s  disk {run.disk_mb:8.1f} MB  "
            f"rss {run.rss_mb:8.1f} MB  p50 {run.p50_ms:7.3f} ms  p95 {run.p95_ms:7.3f} ms  "
            f"R@10 {run.recall_at_10:.3f}",
            flush=True,
        )
    del vectors
    gc.collect()
    out = {"size": size, "default_kind": choose_kind(size), "indexes": [asdict(r) for r in runs]}
    if fts:
        f = run_fts(size, source, workdir)
        print(
            f"{size:>9} fts5   build {f.build_s:7.1f} s  disk {f.disk_mb:8.1f} MB  "
            f"p50 {f.p50_ms:7.3f} ms  p95 {f.p95_ms:7.3f} ms",
            flush=True,
        )
        out["fts5"] = asdict(f)
    return out


# -- the whole hybrid path -------------------------------------------------------------------
HYBRID_FIELDS = (
    "passages",
    "hybrid_p50_ms",
    "hybrid_p95_ms",
    "answer_p50_ms",
    "lexical_p50_ms",
    "dense_recall_at_10",
    "rss_mb",
    "build_s",
)


@dataclass
class SentencePool:
    """Real sentences with their stored model vectors, the titles they came under, and the
    benchmark's questions: what synthetic passages are stitched from."""

    texts: list[str]
    vectors: np.ndarray  # float16, one row per sentence, as the index stores them
    titles: list[str]
    queries: list[str]
    origin: str


def load_sentence_pool(index_dir: Path | None, beir: Path = SCIFACT) -> SentencePool:
    """The sentences of a built index (by default the benchmark's cached index) and the
    benchmark's questions."""
    from rag.eval.beir import load_beir
    from rag.eval.cache import cached_index

    dataset = load_beir(beir)
    if index_dir is None:
        index_dir = cached_index(dataset, load_settings()).index_dir  # builds once, then cached
    return sentence_pool(index_dir, list(dataset.queries.values()))


def sentence_pool(index_dir: Path, queries: list[str]) -> SentencePool:
    """Every stored sentence of 20 characters or more of an index, with its vector."""
    from rag.store import CATALOG

    db = sqlite3.connect(index_dir / CATALOG)
    texts = dict(db.execute("SELECT chunk_id, text FROM chunks"))
    sentences, vectors = [], []
    for chunk_id, start, end, blob in db.execute(
        "SELECT chunk_id, start, end, vector FROM sentences"
    ):
        text = texts[chunk_id][start:end]
        if len(text) >= 20:
            sentences.append(text)
            vectors.append(np.frombuffer(blob, dtype=np.float16))
    titles = [t for (t,) in db.execute("SELECT title FROM documents") if t]
    db.close()
    if not sentences:
        raise RagError(f"The index in {index_dir} stores no sentence vectors: rebuild it.")
    return SentencePool(
        sentences,
        np.vstack(vectors),
        titles or ["untitled"],
        queries,
        f"{index_dir} ({len(sentences)} sentences with vectors)",
    )


def synthetic_documents(
    pool: SentencePool, size: int, per_doc: int, seed: int = 0, noise: float = 0.03
):
    """Batches of (Document, chunks, chunk vectors, sentence rows) for ``size`` passages.

    Each passage is real sentences drawn at random until it holds 150 words (about a
    chunk); its sentences keep their real vectors. The passage vector is its first
    sentence's with Gaussian noise (``noise`` per dimension), renormalised: spread like
    real model vectors, as in the dense-only runs. (The mean of a passage's unrelated
    sentences would crowd every passage near the centre: HNSW Recall@10 0.62 at 1M.)
    """
    import hashlib

    from rag.documents import Chunk, Document

    rng = np.random.default_rng(seed)
    words = np.array([t.count(" ") + 1 for t in pool.texts])
    n_docs = (size + per_doc - 1) // per_doc
    for d in range(n_docs):
        doc_id = f"synthetic-{d:07d}"
        title = pool.titles[rng.integers(len(pool.titles))]
        doc = Document(
            doc_id,
            f"synthetic/{doc_id}.txt",
            hashlib.sha256(doc_id.encode()).hexdigest(),
            [],
            title=title,
        )
        chunks, vectors, sentence_rows, offset = [], [], [], 0
        for ordinal in range(min(per_doc, size - d * per_doc)):
            picks, total = [], 0
            while total < 150:
                i = int(rng.integers(len(pool.texts)))
                picks.append(i)
                total += int(words[i])
            rows, parts, at = [], [], 0
            for i in picks:
                text = pool.texts[i]
                rows.append((at, at + len(text), pool.vectors[i]))
                parts.append(text)
                at += len(text) + 1
            text = " ".join(parts)
            vector = pool.vectors[picks[0]].astype(np.float32)
            vector = vector + rng.standard_normal(len(vector)).astype(np.float32) * noise
            vectors.append(vector / np.linalg.norm(vector))
            chunks.append(
                Chunk(doc_id, ordinal, text, None, None, None, offset, offset + len(text), total)
            )
            sentence_rows.append(rows)
            offset += len(text) + 1
        yield doc, chunks, np.vstack(vectors).astype(np.float32), sentence_rows


def build_hybrid_index(
    pool: SentencePool, size: int, index_dir: Path, batch: int = 100_000, per_doc: int = 10
) -> float:
    """A real index (catalog, FTS5, sentence vectors, FAISS generations) of ``size``
    synthetic passages, written by the project's own Writer, ``batch`` passages a commit.
    Returns the seconds it took."""
    from dataclasses import replace

    from rag.staging import index_spec
    from rag.store import StagedDoc, Writer

    settings = replace(load_settings(), index_dir=index_dir, index_type=choose_kind(size))
    started = time.perf_counter()
    writer = Writer(index_dir, index_spec(settings.index), rebuild=True)
    try:
        staged = 0
        for doc, chunks, vectors, rows in synthetic_documents(pool, size, per_doc):
            writer.add(StagedDoc(doc, chunks, vectors=vectors, sentences=rows))
            staged += len(chunks)
            if staged >= batch:
                writer.commit()
                staged = 0
                print(f"  committed generation {writer.generation}", flush=True)
        if staged:
            writer.commit()
    finally:
        writer.close()
    return time.perf_counter() - started


class _Timed:
    """A retrieval stage that records how long each call took (ms)."""

    def __init__(self, stage):
        self.stage, self.times = stage, []

    def __getattr__(self, name):
        return getattr(self.stage, name)

    def __call__(self, query, candidates):
        t = time.perf_counter()
        out = self.stage(query, candidates)
        self.times.append((time.perf_counter() - t) * 1000)
        return out


def serve_hybrid(index_dir: str, queries: list[str], overrides: dict) -> dict:
    """Open the index as the app does (``Pipeline``) and time each question's whole path:
    the Query (encoding, abbreviation expansion), every retrieval stage on one generation,
    then the answer. Runs in its own process, so its memory is the serving process's."""
    from dataclasses import replace

    import faiss

    from rag.pipeline import Pipeline

    settings = replace(load_settings(), index_dir=Path(index_dir), **overrides)
    t0 = time.perf_counter()
    pipe = Pipeline(settings)
    pipe.warm_up()
    open_s = time.perf_counter() - t0
    stages = [_Timed(s) for s in pipe.retriever.stages]
    pipe.retriever.stages = stages
    for q in queries[:3]:  # first touches of the files
        pipe.ask(q)
    for s in stages:
        s.times.clear()
    encode, hybrid, answer, answered = [], [], [], 0
    vectors = []
    for q in queries:
        t = time.perf_counter()
        query = pipe.query(q)
        t1 = time.perf_counter()
        hits = pipe.passages(query)
        t2 = time.perf_counter()
        result = pipe.answerer.answer(query, hits)
        t3 = time.perf_counter()
        encode.append((t1 - t) * 1000)
        hybrid.append((t2 - t) * 1000)
        answer.append((t3 - t) * 1000)
        answered += not result.abstained
        vectors.append(query.vector)
    rss = rss_mb()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    parts = {"query_encode": percentiles(encode)}
    for s in stages:
        parts[type(s.stage).__name__] = percentiles(s.times)
    # Dense Recall@10 of the served index against exact search over the same vectors.
    ids, stored = pipe.store._current()[1].vectors()
    flat = faiss.IndexFlatIP(stored.shape[1])
    flat.add(stored)
    _, truth = flat.search(np.vstack(vectors), 10)
    found = [[i for i, _ in pipe.store.dense_search(v, 10)] for v in vectors]
    recall = recall_at(np.asarray(found), ids[truth])
    lexical = parts.get("Lexical", (0.0, 0.0))
    return {
        "hybrid_p50_ms": percentiles(hybrid)[0],
        "hybrid_p95_ms": percentiles(hybrid)[1],
        "answer_p50_ms": percentiles(answer)[0],
        "answer_p95_ms": percentiles(answer)[1],
        "lexical_p50_ms": lexical[0],
        "lexical_p95_ms": lexical[1],
        "dense_recall_at_10": recall,
        "rss_mb": round(rss, 1),
        "peak_rss_mb": round(peak, 1),
        "open_s": round(open_s, 2),
        "answered": answered,
        "parts_p50_p95_ms": parts,
        "index_type": pipe.store.stats()["index_type"],
    }


def run_hybrid(
    size: int,
    pool: SentencePool,
    budget: int,
    questions: int,
    workdir: Path,
    keep: bool,
    own_process: bool = True,
) -> dict:
    import multiprocessing
    import shutil
    from concurrent.futures import ProcessPoolExecutor

    index_dir = workdir / f"hybrid-{size}"
    built = workdir / f"hybrid-{size}.build_s"
    if built.exists():  # --workdir with --keep-index from an earlier run: time it again
        build = float(built.read_text())
    else:
        build = build_hybrid_index(pool, size, index_dir)
        built.write_text(f"{build:.1f}")
    disk = sum(p.stat().st_size for p in index_dir.iterdir()) / 2**20
    queries = pool.queries[:questions] if questions else pool.queries
    args = (str(index_dir), queries, {"lexical_budget": budget})
    if own_process:  # a fresh process: its memory is the serving process's alone
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=spawn) as procs:  # a dead child raises
            served = procs.submit(serve_hybrid, *args).result()
    else:
        served = serve_hybrid(*args)
    if not keep:
        shutil.rmtree(index_dir)
    return {
        "passages": size,
        **{k: served[k] for k in HYBRID_FIELDS if k in served},
        "build_s": round(build, 1),
        **{k: v for k, v in served.items() if k not in HYBRID_FIELDS},
        "disk_mb": round(disk, 1),
        "lexical_budget": budget if size >= load_settings().lexical_budget_from else 0,
        "questions": len(queries),
    }


def markdown(result: dict) -> str:
    lines = [
        "| passages | index | build s | on disk MB | in memory MB | effort | p50 ms | p95 ms "
        "| Recall@10 vs flat |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in sorted(result["sizes"], key=lambda e: e["size"]):
        for r in entry["indexes"]:
            mark = " (default)" if r["kind"] == entry["default_kind"] else ""
            effort = {"hnsw": f"efSearch {r['effort']}", "ivfpq": f"nprobe {r['effort']}"}.get(
                r["kind"], "-"
            )
            lines.append(
                f"| {entry['size']:,} | {r['kind']}{mark} | {r['build_s']} | {r['disk_mb']} | "
                f"{r['rss_mb']} | {effort} | {r['p50_ms']} | {r['p95_ms']} | {r['recall_at_10']} |"
            )
    sweeps = [
        (e["size"], r)
        for e in sorted(result["sizes"], key=lambda e: e["size"])
        for r in e["indexes"]
        if r["sweep"]
    ]
    if sweeps:
        lines += [
            "",
            "| passages | index | effort | p50 ms | p95 ms | Recall@10 |",
            "|---:|---|---:|---:|---:|---:|",
        ]
        for size, r in sweeps:
            for s in r["sweep"]:
                lines.append(
                    f"| {size:,} | {r['kind']} | {s['effort']} | {s['p50_ms']} | {s['p95_ms']} "
                    f"| {s['recall_at_10']} |"
                )
    fts = [e["fts5"] for e in sorted(result["sizes"], key=lambda e: e["size"]) if "fts5" in e]
    if fts:
        lines += [
            "",
            "| passages | FTS5 build s | on disk MB | p50 ms | p95 ms | rows matched per query |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for f in fts:
            lines.append(
                f"| {f['size']:,} | {f['build_s']} | {f['disk_mb']} | {f['p50_ms']} "
                f"| {f['p95_ms']} | {f['mean_matches']:,} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rag.scale", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--kinds", nargs="+", default=["flat", "hnsw", "ivfpq"], choices=["flat", "hnsw", "ivfpq"]
    )
    parser.add_argument(
        "--source-index",
        type=Path,
        help="index whose vectors seed the runs (default: SciFact cache)",
    )
    parser.add_argument(
        "--noise",
        type=float,
        default=0.03,
        help="Gaussian noise per dimension before renormalising",
    )
    parser.add_argument("--no-fts", action="store_true", help="skip the FTS5 runs")
    parser.add_argument("--hnsw-m", type=int, default=IndexParams.hnsw_m)
    parser.add_argument("--ef-construction", type=int, default=IndexParams.hnsw_ef_construction)
    parser.add_argument("--out", type=Path, default=None)
    hybrid = parser.add_argument_group("the whole hybrid path (--hybrid)")
    hybrid.add_argument(
        "--hybrid",
        action="store_true",
        help="build a real index of passages stitched from real sentences and time the app's "
        "path (query, dense + lexical + fusion + ordering, answer) in a serving process",
    )
    hybrid.add_argument(
        "--lexical-budget",
        type=int,
        default=None,
        help="postings budget of the lexical side (default: the setting lexical_budget)",
    )
    hybrid.add_argument("--questions", type=int, default=0, help="questions to time (0: all)")
    hybrid.add_argument("--workdir", type=Path, default=None, help="where the index is built")
    hybrid.add_argument(
        "--keep-index",
        action="store_true",
        help="keep the built index in --workdir (hybrid-SIZE); a later run with the same "
        "--workdir times that index again instead of building it",
    )
    args = parser.parse_args(argv)
    if args.hybrid:
        return main_hybrid(args)
    args.out = args.out or BENCH_DIR / "scale.json"
    from rag.eval.machine import machine_info

    params = IndexParams(hnsw_m=args.hnsw_m, hnsw_ef_construction=args.ef_construction)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    source = load_source(args.source_index)
    print(
        f"source: {source.origin}; {len(source.queries)} queries; load {os.getloadavg()}",
        flush=True,
    )
    result = {"sizes": []}
    if args.out.exists():
        result = json.loads(args.out.read_text())
    with tempfile.TemporaryDirectory(prefix="rag-scale-") as tmp:
        for size in args.sizes:
            entry = run_size(
                size, source, args.kinds, params, args.noise, not args.no_fts, Path(tmp)
            )
            entry.update(
                {
                    "date": started,
                    "loadavg_before": os.getloadavg(),
                    "noise": args.noise,
                    "source": source.origin,
                    "queries": len(source.queries),
                    "params": asdict(params),
                    "peak_rss_mb": round(
                        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
                    ),
                }
            )
            result["sizes"] = [e for e in result["sizes"] if e["size"] != size] + [entry]
            result["machine"] = machine_info()
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2))
            args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


def main_hybrid(args) -> int:
    from rag.eval.machine import machine_info

    out = args.out or BENCH_DIR / "scale-hybrid.json"
    budget = load_settings().lexical_budget if args.lexical_budget is None else args.lexical_budget
    pool = load_sentence_pool(args.source_index)
    print(f"source: {pool.origin}; {len(pool.queries)} queries; load {os.getloadavg()}")
    results = json.loads(out.read_text()) if out.exists() else []
    for size in args.sizes:
        loadavg = os.getloadavg()
        if args.keep_index:  # kept in --workdir, and timed again from there if present
            tmp = args.workdir or Path(tempfile.mkdtemp(prefix="rag-scale-"))
            print(f"index kept in {tmp}/hybrid-{size}", flush=True)
            entry = run_hybrid(size, pool, budget, args.questions, Path(tmp), True)
        else:
            with tempfile.TemporaryDirectory(prefix="rag-scale-", dir=args.workdir) as tmp:
                entry = run_hybrid(size, pool, budget, args.questions, Path(tmp), False)
        entry.update(
            {
                "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "loadavg_before": loadavg,
                "source": pool.origin,
                "machine": machine_info(),
            }
        )
        print(json.dumps({k: entry[k] for k in HYBRID_FIELDS}), flush=True)
        results = [r for r in results if r["passages"] != size] + [entry]
        results.sort(key=lambda r: r["passages"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    run_as_script(main)
