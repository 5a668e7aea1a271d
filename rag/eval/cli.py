"""`rag eval`: score a gold set or a BEIR folder, write reports, compare two runs."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rag.config import MODES, Settings, field_defaults, load_settings
from rag.errors import RagError

EPILOG = """examples:
  rag eval eval/seed_gold.jsonl --json eval/results/seed-hybrid.json --report seed.md
  rag eval --beir /path/to/scifact --mode dense --json eval/results/scifact-dense.json
  rag eval --beir /path/to/scifact --chunk-tokens 128 --overlap-tokens 20
  rag eval --compare eval/results/scifact-dense.json eval/results/scifact-hybrid.json
  rag eval --table eval/results/*.json
"""


def add_eval_parser(sub, common) -> None:
    p = sub.add_parser(
        "eval",
        parents=[common],
        help="score retrieval and answers on a gold set or a BEIR folder",
        description="Score retrieval and answers on a gold set (JSONL) or a BEIR folder, "
        "through the same pipeline as `rag ask`; or compare two saved results.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("gold", nargs="?", type=Path, help="gold set, one JSON question per line")
    p.add_argument("--beir", type=Path, metavar="DIR", help="a BEIR folder instead of a gold set")
    p.add_argument("--split", help="qrels split of the BEIR folder (default: its only one)")
    p.add_argument("--cards", type=Path, metavar="GOLD", help="score case cards on gold cards")
    p.add_argument(
        "--similar", type=Path, metavar="FILE",
        help='score similar cases on {"id", "summary", "doc_id"} lines',
    )  # fmt: skip
    p.add_argument(
        "--compare", nargs=2, type=Path, metavar=("A.json", "B.json"),
        help="print metric deltas B - A with a paired significance test",
    )  # fmt: skip
    p.add_argument(
        "--table", nargs="+", type=Path, metavar="RESULT.json",
        help="print a Markdown table of the headline metrics of saved results",
    )  # fmt: skip
    g = p.add_argument_group("ablations (override the configuration)")
    g.add_argument("--mode", choices=MODES, help="retrieval mode")
    g.add_argument("-k", type=int, help="passages per answer (default 5)")
    g.add_argument("--rrf-k", type=int, help="reciprocal rank fusion constant (default 60)")
    g.add_argument("--candidates", type=int, help="depth taken from each retriever (default 100)")
    g.add_argument("--dense-weight", type=float, help="weight of the dense ranking in RRF")
    g.add_argument("--lexical-weight", type=float, help="weight of the lexical ranking in RRF")
    g.add_argument("--chunk-tokens", type=int, help="token budget per chunk (new index)")
    g.add_argument("--overlap-tokens", type=int, help="tokens carried between chunks (new index)")
    g.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE",
        help="any other setting, e.g. --set rerank_depth=0 (repeatable)",
    )  # fmt: skip
    g = p.add_argument_group("what to run")
    g.add_argument(
        "--corpus", type=Path, action="append",
        help="gold sets: evaluate on a cached index of this folder instead of --index "
        "(implied by --chunk-tokens/--overlap-tokens, with the configured corpus); "
        "repeat it to index several folders together",
    )  # fmt: skip
    g.add_argument("--cache", type=Path, help="where built indexes are kept (default eval/cache)")
    g.add_argument("--no-answer", action="store_true", help="gold sets: score retrieval only")
    g.add_argument("--limit", type=int, help="only the first N questions (a smoke test)")
    g = p.add_argument_group("output")
    g.add_argument("--json", type=Path, metavar="PATH", help="write metrics, config and rows")
    g.add_argument("--report", type=Path, metavar="PATH", help="write a Markdown report")
    g.add_argument("--trec", type=Path, metavar="PATH", help="write the run as a TREC file")
    g.add_argument("--stat-test", choices=("student", "fisher"), default="student")
    g.add_argument("--max-p", type=float, default=0.05, help="significance level (0.05)")
    g.add_argument("--by", default="ndcg@10", help="compare: metric for better/worse questions")
    g.add_argument("--show", type=int, default=10, help="compare: questions listed each way")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(run=cmd_eval)


def parse_sets(pairs: list[str]) -> dict:
    """``FIELD=VALUE`` pairs typed like the Settings field they set."""
    types = {name: type(default) for name, default in field_defaults().items()}
    out: dict = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in types or name == "filters":
            raise RagError(f"--set {pair}: expected FIELD=VALUE with a setting name")
        kind = types[name]
        try:
            if kind is bool:
                out[name] = raw.lower() in {"1", "true", "yes", "on"}
            elif kind in (int, float):
                out[name] = kind(raw)
            elif kind is str:
                out[name] = raw
            else:
                out[name] = Path(raw)
        except ValueError as exc:
            raise RagError(f"--set {pair}: {raw!r} is not a {kind.__name__}") from exc
    return out


def eval_settings(args: argparse.Namespace) -> Settings:
    """The configuration: options, then ``--set FIELD=VALUE`` (so ``--set mode=dense`` works)."""
    options = {
        "index_dir": args.index,
        "model": args.model,
        "device": args.device,
        "backend": args.backend,
        "k": args.k,
        "mode": args.mode,
        "rrf_k": args.rrf_k,
        "candidates": args.candidates,
        "dense_weight": args.dense_weight,
        "lexical_weight": args.lexical_weight,
        "chunk_tokens": args.chunk_tokens,
        "overlap_tokens": args.overlap_tokens,
    }
    return load_settings(**{**options, **parse_sets(args.set)})


class ProgressPrinter:
    """One line per stage every few seconds on stderr: readable in a log file."""

    def __init__(self, every_s: float = 5.0):
        self.every = every_s
        self.last: dict[str, float] = {}
        self.started: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        self.started.setdefault(stage, now)
        if done < total and now - self.last.get(stage, 0.0) < self.every:
            return
        self.last[stage] = now
        elapsed = now - self.started[stage]
        print(f"{stage} {done}/{total} ({elapsed:.0f} s)", file=sys.stderr, flush=True)


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.eval.compare import compare_results, format_comparison
    from rag.eval.report import markdown_table
    from rag.eval.results import EvalResult

    if args.compare:
        if args.gold or args.beir:
            raise RagError("--compare takes two result files and nothing else to run")
        a, b = (EvalResult.load(p) for p in args.compare)
        comparison = compare_results(a, b, args.stat_test, args.max_p, args.by)
        print(format_comparison(comparison, args.show))
        return 0
    if args.table:
        print(markdown_table([EvalResult.load(p) for p in args.table]))
        return 0
    if args.cards or args.similar:
        return cmd_cases(args)
    if (args.gold is None) == (args.beir is None):
        raise RagError("give a gold set FILE.jsonl or --beir DIR (or --compare A.json B.json)")
    return run_and_write(args)


def run_and_write(args: argparse.Namespace) -> int:
    """Score the gold set or BEIR folder, print the summary, write what was asked for."""
    from rag.eval.report import format_summary, markdown_report
    from rag.eval.running import run_beir, run_gold

    settings = eval_settings(args)
    progress = None if args.quiet else ProgressPrinter()
    if args.beir is not None:
        result = run_beir(args.beir, settings, args.split, args.cache, args.limit, progress)
    else:
        corpus = args.corpus[0] if args.corpus and len(args.corpus) == 1 else args.corpus
        if corpus is None and (args.chunk_tokens or args.overlap_tokens is not None):
            corpus = settings.corpus_dir
        result = run_gold(
            args.gold, settings, corpus, args.cache, not args.no_answer, args.limit, progress
        )
    print(format_summary(result))
    if args.json:
        result.save(args.json)
        print(f"wrote {args.json}")
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(markdown_report(result), encoding="utf-8")
        print(f"wrote {args.report}")
    if args.trec:
        result.write_trec(args.trec)
        print(f"wrote {args.trec}")
    return 0


def cmd_cases(args: argparse.Namespace) -> int:
    from rag.eval.cases import format_card_score, run_cases

    kind, path = ("cards", args.cards) if args.cards else ("similar", args.similar)
    progress = None if args.quiet else ProgressPrinter()
    result = run_cases(kind, path, eval_settings(args), args.corpus or [], args.cache, progress)
    if kind == "cards":
        print(format_card_score(result))
        if args.json:
            args.json.write_text(json.dumps(result.__dict__, indent=2, default=str) + "\n")
    else:
        print(
            f"summaries {result['summaries']}: first {result['first']:.1%}, "
            f"top 3 {result['top3']:.1%}"
        )
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
