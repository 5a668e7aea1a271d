"""``rag bench`` and ``python -m rag.bench``: the benchmark commands and their options."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rag.config import IndexSettings
from rag.embedding import BACKENDS
from rag.eval.bench import __doc__ as DOC
from rag.eval.bench.children import CHILDREN
from rag.eval.bench.common import BENCH_DIR, resolve_device
from rag.eval.bench.encode import BATCH_SIZES, bench_encode, bench_ndcg
from rag.eval.bench.report import results_markdown
from rag.eval.bench.run import RunConfig, bench_run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rag.bench", description=DOC.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="indexing, question latency, memory, app cold start")
    p.add_argument("--corpus", default="scifact", help="scifact, seed, or a folder")
    p.add_argument("--limit", type=int, default=300, help="documents (0: all)")
    p.add_argument("--backend", choices=BACKENDS, default=IndexSettings.backend)
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
