"""``rag bench report``: eval/bench/RESULTS.md from the JSON files the benchmarks wrote.

One small function per section; the long fixed prose is in templates filled by name.
"""

from __future__ import annotations

import json

from rag.eval.bench.common import BENCH_DIR
from rag.eval.bench.encode import onnx_verdict

MACHINE = (
    "Machine: {cpus} cores ({cpu}), {platform}, Python {python}; shared with other jobs (load "
    "averages are quoted per run). Ours and the bare library were measured side by side in "
    "each run, alternating; figures are medians. Regenerate with `python -m rag.bench report`."
)
RUN_COMMAND = (
    "`python -m rag.bench run --corpus {corpus}{limit} --backend {backend} --repeats {repeats}` "
    "— {documents} documents, {chunks} passages, {texts} texts embedded (passages with prefix "
    "+ distinct sentences); load average before {before}, after {after}."
)
ENCODE_COMMAND = (
    "`python -m rag.bench encode` — {passages} SciFact passages (mean {mean_tokens} word "
    "pieces), device {device}, torch threads {threads}, load average {loadavg}. Minimum cosine "
    "to the torch vectors: {cosines}."
)
PADDING = (
    "Padding (padded / real word pieces) by batch order — sentence-transformers sorts by "
    "characters{interleaves}; the ONNX encoder sorts by exact token count:"
)
NDCG_COMMAND = (
    "`python -m rag.bench ndcg` (the evaluator's `evaluate_beir`; each backend indexes the "
    "corpus itself):"
)
VERDICT = (
    "**Verdict (rule: default only if >= 1.8x faster and loses < 0.005 nDCG@10):** speed-up "
    "{speedup}x, nDCG@10 loss {ndcg_loss_by_mode}, decided on the default mode "
    "({decided_on_mode}) -> {decision}"
)
SCALE = (
    "`python -m rag.scale --sizes 10000 100000 1000000` — vectors are real all-MiniLM-L6-v2 "
    "vectors of SciFact passages and sentences ({source}), sampled with replacement, plus "
    "Gaussian noise (sigma {noise} per dimension) and renormalised; queries are the {queries} "
    "SciFact claims encoded by the model, one at a time. FTS5 rows are synthetic ~150-word "
    "passages stitched from real sentences, queried with the store's SQL. In-memory MB is the "
    "process RSS growth while building (noisy for small indexes; on disk = serialized size)."
)


def _load(name: str) -> dict:
    path = BENCH_DIR / name
    return json.loads(path.read_text()) if path.exists() else {}


def _fastest(indexing: dict, who: str) -> float:
    """Passages/s of the fastest run: on a shared machine, the least disturbed one."""
    return round(indexing["chunks"] / min(r["seconds"] for r in indexing["runs"][who]), 2)


def _row(*cells) -> str:
    """A Markdown table row; None is an empty cell."""
    return "|" + "|".join(" " if c is None else f" {c} " for c in cells) + "|"


def results_markdown() -> str:
    run, enc, ndcg, scale = (
        _load(n) for n in ("bench.json", "encode.json", "ndcg.json", "scale.json")
    )
    m = run.get("machine_before") or enc.get("machine") or {}
    fields = {k: m.get(k) for k in ("cpus", "cpu", "platform", "python")}
    lines = ["# Performance and scale results", "", MACHINE.format(**fields), ""]
    if run:
        lines += run_section(run, _load("bench-torch.json"))
    if enc:
        lines += encode_section(enc)
    if ndcg:
        lines += ndcg_section(ndcg, enc)
    if scale:
        lines += scale_section(scale)
    notes = BENCH_DIR / "NOTES.md"  # hand-written reading of the figures, kept beside them
    if notes.exists():
        lines += ["", notes.read_text()]
    return "\n".join(lines)


def run_section(run: dict, other: dict) -> list[str]:
    """``rag bench run``: indexing, latency and memory beside the bare library; the app."""
    c, ix = run["config"], run["indexing"]
    command = RUN_COMMAND.format(
        corpus=c["corpus"],
        limit=f" --limit {c['limit']}" if c["limit"] else "",
        backend=c["backend"],
        repeats=c["repeats"],
        documents=ix["documents"],
        chunks=ix["chunks"],
        texts=ix["texts_embedded"],
        before=run["machine_before"]["loadavg"],
        after=run["machine_after"]["loadavg"],
    )
    lines = [f"## 1. Indexing, questions, memory, app start ({run['date']})", "", command, ""]
    lines += ["| what | CaseQA | bare library | ratio |", "|---|---:|---:|---:|"]
    lines += _indexing_rows(ix, c["repeats"]) + _latency_rows(run["latency"])
    if "app" in run:
        lines += _app_rows(run["app"])
    if other:  # the same run with the reference backend
        lines += _other_backend_rows(other)
    return lines + [""]


def _indexing_rows(ix: dict, repeats: int) -> list[str]:
    sync, bare = _fastest(ix, "sync"), _fastest(ix, "bare")
    return [
        _row(
            "indexing, passages/s end to end (parse, clean, chunk, embed, write) vs the bare "
            "library encoding the same texts",
            ix["sync_passages_per_s"],
            ix["bare_passages_per_s"],
            ix["ratio_sync_over_bare"],
        ),
        _row(
            f"indexing, fastest of the {repeats} runs, passages/s (least disturbed by other jobs)",
            sync,
            bare,
            round(sync / bare, 3),
        ),
        _row(
            "of which embedding, s (median)",
            ix["sync_embed_seconds_median"],
            ix["bare_encode_seconds_median"],
            None,
        ),
        _row(
            "indexing peak RSS, MB",
            ix["sync_peak_rss_mb_median"],
            ix["bare_peak_rss_mb_median"],
            None,
        ),
    ]


def _latency_rows(lat: dict) -> list[str]:
    def p50_p95(name: str) -> str:
        return f"{lat[name]['p50_ms']} / {lat[name]['p95_ms']}"

    bare = lat["bare"]["p50_ms"]
    return [
        _row(
            "question, retrieval p50 / p95 ms (`Pipeline.search` vs encode + FAISS + FTS5)",
            p50_p95("search"),
            p50_p95("bare"),
            round(lat["search"]["p50_ms"] / bare, 2),
        ),
        _row(
            "question, full answer p50 / p95 ms (`Pipeline.ask`)",
            p50_p95("ask"),
            p50_p95("bare"),
            round(lat["ask"]["p50_ms"] / bare, 2),
        ),
        _row(
            "serving process peak RSS, MB (model + index, every question answered)",
            lat["serving_peak_rss_mb"],
            None,
            None,
        ),
    ]


def _app_rows(a: dict) -> list[str]:
    rows = [
        _row(
            f"app cold start to first answer on screen, s ({a['method']}; healthy "
            f"{a['healthy_s']} s, question box {a['question_box_s']} s) vs a bare cold process "
            "(import, load model and index, encode, FAISS, FTS5)",
            a["first_answer_s"],
            f"{a['bare_cold_process_s']:.2f}",
            round(a["first_answer_s"] / a["bare_cold_process_s"], 2),
        )
    ]
    if "warm_answer_s_median" in a:
        rows.append(
            _row(
                "a warm question in the same page, Enter to answer shown, s (median of "
                f"{len(a['warm_answer_s'])})",
                a["warm_answer_s_median"],
                None,
                None,
            )
        )
    return rows


def _other_backend_rows(other: dict) -> list[str]:
    oc, ox, ol = other["config"], other["indexing"], other["latency"]
    sync, bare = _fastest(ox, "sync"), _fastest(ox, "bare")
    bare_p50 = ol["bare"]["p50_ms"]
    return [
        _row(
            f"with `--backend {oc['backend']}` ({other['date']}, {ox['documents']} documents, "
            f"load {other['machine_before']['loadavg']}): indexing passages/s median; fastest",
            f"{ox['sync_passages_per_s']}; {sync}",
            f"{ox['bare_passages_per_s']}; {bare}",
            f"{ox['ratio_sync_over_bare']}; {round(sync / bare, 3)}",
        ),
        _row(
            f"with `--backend {oc['backend']}`: retrieval / answer p50 ms",
            f"{ol['search']['p50_ms']} / {ol['ask']['p50_ms']}",
            bare_p50,
            f"{round(ol['search']['p50_ms'] / bare_p50, 2)} / "
            f"{round(ol['ask']['p50_ms'] / bare_p50, 2)}",
        ),
    ]


def encode_section(enc: dict) -> list[str]:
    """``rag bench encode``: passages/s per backend and batch size, and padding by order."""
    command = ENCODE_COMMAND.format(
        passages=enc["passages"],
        mean_tokens=enc["padding"][next(iter(enc["padding"]))]["mean_tokens"],
        device=enc["device"],
        threads=enc["torch_threads"],
        loadavg=enc["machine"]["loadavg"],
        cosines=", ".join(f"{b} {v}" for b, v in enc["min_cosine_vs_first_backend"].items()),
    )
    lines = [f"## 2. Embedding backends ({enc['date']})", "", command, ""]
    lines += ["| backend | batch size | passages/s (median) |", "|---|---:|---:|"]
    for s in enc["sweep"]:
        size = "1 (one text per call)" if s["backend"] == "onnx-int8" else s["batch_size"]
        lines.append(_row(s["backend"], size, s["passages_per_s"]))
    speedups = ", ".join(f"{b} {v}x" for b, v in enc["speedup_vs_torch"].items())
    interleaves = " and interleaves long/short batches" if enc["st_interleaves_batches"] else ""
    lines += ["", f"Speed-up at each backend's best batch size: {speedups}.", ""]
    lines += [PADDING.format(interleaves=interleaves), ""]
    lines += ["| batch | unsorted | by characters | by tokens |", "|---:|---:|---:|---:|"]
    for bs, p in enc["padding"].items():
        lines.append(_row(bs, p["unsorted"], p["by_characters"], p["by_tokens"]))
    return lines + [""]


def ndcg_section(ndcg: dict, enc: dict) -> list[str]:
    """``rag bench ndcg``: nDCG@10 per backend and mode, and the verdict on the default."""
    lines = [f"### nDCG@10 on SciFact-dev per backend ({ndcg['date']})", "", NDCG_COMMAND, ""]
    lines += [
        "| backend | mode | nDCG@10 | Recall@10 | index build s | retrieval p50 ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in ndcg["runs"]:
        lines.append(
            _row(
                r["backend"],
                r["mode"],
                r["ndcg@10"],
                r["recall@10"],
                r["index_seconds"],
                r.get("latency_retrieval_p50_ms", ""),
            )
        )
    if enc:
        v = onnx_verdict(enc, ndcg)
        decision = "make onnx-int8 the default." if v["make_default"] else "keep torch."
        lines += ["", VERDICT.format(**v, decision=decision)]
    return lines + [""]


def scale_section(scale: dict) -> list[str]:
    """``python -m rag.scale``: its own tables, after what the figures are made of."""
    from rag.eval.scale import markdown as scale_markdown

    first = scale["sizes"][0]
    intro = SCALE.format(source=first["source"], noise=first["noise"], queries=first["queries"])
    return ["## 3. Scale", "", intro, "", scale_markdown(scale)]
