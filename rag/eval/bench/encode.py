"""``rag bench encode`` (embedding backends x batch sizes) and ``rag bench ndcg`` (nDCG@10
on SciFact per backend, through the evaluator), and the rule that picks the default backend.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from pathlib import Path

import numpy as np

from rag.config import RetrievalSettings, Settings, load_settings
from rag.embedding import Embedder, embedder_for
from rag.eval.bench.common import SCIFACT, machine, median

BATCH_SIZES = (4, 8, 16, 32, 64)


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
    settings = load_settings(device=device)
    chunks = scifact_chunks(settings, limit)
    embedders = {b: Embedder(settings.model_path, device, 32, b) for b in backends}
    reference = embedders[backends[0]].encode(chunks[:64], progress=False)
    agreement = {}
    for b, e in embedders.items():
        v = e.encode(chunks[:64], progress=False)  # also loads and warms each backend
        agreement[b] = round(float((v * reference).sum(axis=1).min()), 5)
    import torch

    sweep = _sweep(embedders, backends, batch_sizes, chunks, repeats)
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


def scifact_chunks(settings: Settings, limit: int) -> list[str]:
    """The texts ``sync`` would embed for the first ``limit`` SciFact records."""
    from rag.chunking import TokenCounter
    from rag.eval.beir import read_corpus
    from rag.staging import chunk_texts, index_spec, stage

    spec = index_spec(settings.index)
    counter = TokenCounter(settings.model_path)
    chunks: list[str] = []
    for doc in itertools.islice(read_corpus(SCIFACT / "corpus.jsonl"), limit):
        staged = stage(doc, spec, counter)
        chunks += chunk_texts(doc, staged.chunks, spec)
    return chunks


def _sweep(
    embedders: dict[str, Embedder],
    backends: list[str],
    batch_sizes: list[int],
    chunks: list[str],
    repeats: int,
) -> list[dict]:
    """Seconds per backend and batch size, the combinations rotated between repeats."""
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
    return [
        {
            "backend": b,
            "batch_size": bs,
            "seconds_median": median(t),
            "passages_per_s": round(len(chunks) / statistics.median(t), 2),
        }
        for (b, bs), t in times.items()
    ]


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
        embedder = embedder_for(backend_settings.index)
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
    loss = losses.get(RetrievalSettings.mode)
    ok = speed is not None and loss is not None and speed >= 1.8 and loss < 0.005
    return {
        "speedup": speed,
        "decided_on_mode": RetrievalSettings.mode,
        "ndcg_loss_by_mode": losses,
        "make_default": ok,
    }
