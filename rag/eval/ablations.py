"""`python -m rag.eval.ablations`: every retrieval step against the default, in one table.

Each configuration is the default with a few settings changed, so each row is also one
`rag eval ... --set FIELD=VALUE` command. A row is scored on a BEIR development set
(nDCG@10, Recall@100, p50 latency, paired test against the default) and on a gold set
(Recall@5, hit rate@5), through the same `run_beir` / `run_gold` path as `rag eval`.
Results are kept per configuration, so a rerun only scores what is missing.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from rag.config import PROJECT_ROOT, load_settings
from rag.embedding import embedder_for
from rag.eval.compare import compare_results
from rag.eval.results import EvalResult
from rag.eval.running import run_beir, run_gold

# name -> setting overrides on top of the default (rag/config.py).
CONFIGS: dict[str, dict] = {
    "default": {},
    "dense only": {"mode": "dense"},
    "lexical only": {"mode": "lexical"},
    "chunks of 96/24 tokens": {"chunk_tokens": 96, "overlap_tokens": 24},
    "chunks of 128/32 tokens": {"chunk_tokens": 128, "overlap_tokens": 32},
    "chunks of 256/50 tokens": {"chunk_tokens": 256, "overlap_tokens": 50},
    "no title/section prefix on embedded chunks": {"embed_prefix": False},
    "no abbreviation expansion": {"expand_abbreviations": False},
    "no adaptive lexical weight": {"adaptive_lexical": False},
    "title column weight 1.0 (BM25)": {"title_weight": 1.0},
    "title column weight 0 (BM25)": {"title_weight": 0.0},
    "RRF constant 20": {"rrf_k": 20},
    "RRF constant 100": {"rrf_k": 100},
    "candidate depth 50": {"candidates": 50},
    "candidate depth 200": {"candidates": 200},
    "lexical weight 0.7 in RRF": {"lexical_weight": 0.7},
    "lexical weight 1.5 in RRF": {"lexical_weight": 1.5},
    "score fusion instead of RRF": {"fusion": "score"},
    "dense pseudo-relevance feedback (3 passages)": {"dense_prf": 3},
    "best-sentence re-ranking of the top 30": {"rerank_depth": 30, "sentence_vectors": True},
    "sentence-level dense search as a third ranking": {
        "sentence_search_weight": 0.5,
        "sentence_vectors": True,
    },
    "MMR among passages (lambda 0.9)": {"mmr_lambda": 0.9},
    "no answer-type ordering": {"answer_type_depth": 0},
}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def command(overrides: dict) -> str:
    """The `rag eval` options that reproduce one configuration."""
    return " ".join(f"--set {k}={str(v).lower()}" for k, v in overrides.items()) or "(none)"


def scored(name: str, overrides: dict, args, embedder) -> tuple[EvalResult, EvalResult]:
    """The BEIR and gold results of one configuration, from ``args.out`` when kept."""
    settings = load_settings(**overrides)
    beir_path, gold_path = (args.out / f"{slug(name)}.{kind}.json" for kind in ("beir", "gold"))
    if beir_path.exists():
        beir = EvalResult.load(beir_path)
    else:
        beir = run_beir(args.beir, settings, cache_root=args.cache, embedder=embedder)
        beir.save(beir_path)
    if gold_path.exists():
        gold = EvalResult.load(gold_path)
    else:
        gold = run_gold(
            args.gold, settings, args.corpus, args.cache, answer=False, embedder=embedder
        )
        gold.save(gold_path)
    return beir, gold


def _cell(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows: dict[str, tuple[EvalResult, EvalResult]]) -> str:
    base_beir, _ = rows["default"]
    head = (
        "| configuration | options | nDCG@10 | Recall@100 | p vs default | p50 ms "
        "| gold Recall@5 | gold hit rate@5 |\n|---|---|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for name, (beir, gold) in rows.items():
        if beir.run == base_beir.run:
            p = "-" if name == "default" else "same run"
        else:
            delta = compare_results(base_beir, beir).rows
            p = _cell(next((r.p_value for r in delta if r.metric == "ndcg@10"), None), 3)
        m, g = beir.metrics, gold.metrics
        lines.append(
            f"| {name} | {command(CONFIGS[name])} | {_cell(m.get('ndcg@10'))} "
            f"| {_cell(m.get('recall@100'))} | {p} "
            f"| {_cell(m.get('latency_retrieval_p50_ms'), 1)} "
            f"| {_cell(g.get('recall@5'))} "
            f"| {_cell(g.get('hit_rate@5'))} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m rag.eval.ablations", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--beir", type=Path, default=PROJECT_ROOT.parent / "shared/benchmarks/scifact-dev"
    )
    p.add_argument("--gold", type=Path, default=PROJECT_ROOT / "eval/seed_gold.jsonl")
    p.add_argument("--corpus", type=Path, default=PROJECT_ROOT / "corpus")
    p.add_argument("--cache", type=Path, help="built indexes (default eval/cache)")
    p.add_argument("--out", type=Path, default=PROJECT_ROOT / "eval/cache/ablations")
    p.add_argument("--table", type=Path, default=PROJECT_ROOT / "eval/results/ablations.md")
    p.add_argument("--only", nargs="+", metavar="NAME", help="configurations to score")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(args.only or ()) - set(CONFIGS))
    if unknown:
        p.error(f"unknown configuration {unknown[0]!r}; known: {', '.join(CONFIGS)}")
    names = ["default", *[n for n in (args.only or CONFIGS) if n != "default"]]
    # One model for every configuration: none of them changes the model or its backend.
    embedder = embedder_for(load_settings().index)
    rows = {}
    for name in names:
        print(f"{name} ...", file=sys.stderr, flush=True)
        rows[name] = scored(name, CONFIGS[name], args, embedder)
    text = table(rows)
    args.table.parent.mkdir(parents=True, exist_ok=True)
    args.table.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
