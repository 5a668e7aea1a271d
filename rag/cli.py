"""The `rag` command: index a corpus, ask questions, check the index, evaluate.

Heavy libraries (torch, sentence-transformers, faiss) are imported only by the
commands that need them, so `rag --help` and `rag status` start at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
import time
import warnings
from pathlib import Path

from rag.config import MODES, load_settings
from rag.errors import RagError


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet_stderr(getattr(args, "verbose", False))
    try:
        return args.run(args) or 0
    except RagError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rag ask ... | head`
        sys.stderr.close()
        return 0


def quiet_stderr(verbose: bool) -> None:
    """Only errors reach stderr unless ``-v``: the libraries' INFO and WARNING lines stay out.

    Installing the root handler first matters: the ``abbreviations`` package calls
    ``logging.basicConfig(level=INFO)`` when imported, which does nothing once one exists.
    """
    logging.basicConfig(format="%(message)s", stream=sys.stderr)
    logging.getLogger().setLevel(logging.WARNING if verbose else logging.ERROR)
    if verbose:
        logging.getLogger("rag").setLevel(logging.DEBUG)
    else:
        warnings.simplefilter("ignore")


def one_line(message: str) -> str:
    """An error message safe to print after ``error:``: non-printable characters escaped,
    and any further lines (a child's output, say) indented under it, so no name in it can
    start a line of its own."""
    from rag.ingest import printable

    return "\n  ".join(printable(line) for line in message.splitlines() or [""])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", type=Path, help="index folder (default: index/)")
    common.add_argument("--model", help="a sentence-transformers model folder")
    common.add_argument("--device", help="cpu, cuda, ... (default: cpu)")
    common.add_argument(
        "--backend",
        choices=("torch", "onnx", "onnx-int8"),
        help="embedding runtime (default: onnx-int8; RAG_BACKEND)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="print timings")

    p = sub.add_parser("index", parents=[common], help="index or re-sync a corpus")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: corpus/)")
    p.add_argument("--rebuild", action="store_true", help="re-process every file")
    p.add_argument("--chunk-tokens", type=int, help="token budget per chunk")
    p.add_argument("--overlap-tokens", type=int, help="tokens carried between chunks")
    p.add_argument(
        "--index-type",
        choices=("auto", "flat", "hnsw", "ivfpq"),
        help="vector index type (default: auto, by corpus size; RAG_INDEX_TYPE)",
    )
    p.add_argument(
        "--embeddings",
        type=Path,
        help="embedding shards made by `python -m rag.distributed embed` (used, not recomputed)",
    )
    p.set_defaults(run=cmd_index)

    p = sub.add_parser("ask", parents=[common], help="answer a question from the index")
    p.add_argument("question", nargs="?", help="the question (or use --questions)")
    p.add_argument("-k", type=int, help="passages to return (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--questions", type=Path, help='JSONL file of {"id", "question"} lines')
    p.add_argument("--mode", choices=MODES, help="retrieval mode")
    p.set_defaults(run=cmd_ask)

    p = sub.add_parser("status", parents=[common], help="what the index holds")
    p.set_defaults(run=cmd_status)

    from rag.cases_cli import add_case_parsers
    from rag.eval.cli import add_eval_parser

    add_eval_parser(sub, common)
    add_case_parsers(sub, common)

    p = sub.add_parser(
        "bench", help="performance benchmarks (rag bench run|encode|ndcg|report --help)"
    )
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments for rag.bench")
    p.set_defaults(run=cmd_bench)
    return parser


def cmd_bench(args: argparse.Namespace) -> int:
    from rag.eval.bench.cli import main as bench_main

    return bench_main(args.bench_args)


def settings_from(args: argparse.Namespace):
    return load_settings(
        index_dir=args.index,
        model=args.model,
        device=args.device,
        backend=getattr(args, "backend", None),
        index_type=getattr(args, "index_type", None),
        k=getattr(args, "k", None),
        mode=getattr(args, "mode", None),
        chunk_tokens=getattr(args, "chunk_tokens", None),
        overlap_tokens=getattr(args, "overlap_tokens", None),
    )


def cmd_index(args: argparse.Namespace) -> int:
    from rag.indexing import sync
    from rag.ingest import printable

    settings = settings_from(args)
    paths = args.paths or [settings.corpus_dir]
    embedder = None
    if args.embeddings:
        from rag.distributed import EmbeddingShards, ShardEmbedder
        from rag.embedding import model_id

        shards = EmbeddingShards(args.embeddings, model_id(settings.model_path))
        embedder = ShardEmbedder(
            shards, settings.model_path, settings.device, settings.batch_size, settings.backend
        )
    report = sync(paths, settings, rebuild=args.rebuild, embedder=embedder)
    print(
        f"{report.documents} documents, {report.chunks} chunks in {settings.index_dir} "
        f"({len(report.added)} added, {len(report.updated)} updated, {len(report.removed)} "
        f"removed, {len(report.unchanged)} unchanged, {len(report.recleaned)} re-cleaned, "
        f"{len(report.failed)} failed; "
        f"{report.chunks_embedded} chunks embedded) in {report.seconds:.1f} s"
    )
    for path, reason in report.failed:
        print(f"skipped {printable(path)}: {printable(reason)}")
    for path, message in report.warnings:
        print(f"warning {printable(path)}: {printable(message)}")
    if report.failed and not (report.added or report.updated or report.unchanged):
        print(
            f"error: none of the {len(report.failed)} files could be indexed (see the reasons "
            "above)",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from rag.store import Store

    settings = settings_from(args)
    stats = Store(settings.index_dir).stats()
    for key, value in stats.items():
        print(f"{key}: {value}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    if args.questions is None and not (args.question or "").strip():
        raise RagError("The question is empty: give a question, or --questions FILE.jsonl.")
    questions = read_questions(args.questions) if args.questions else [(None, args.question)]
    started = time.perf_counter()
    from rag.pipeline import Pipeline
    from rag.titles import titles

    pipeline = Pipeline(settings_from(args))
    pipeline.warm_up()
    names = titles(pipeline.store)
    logging.getLogger("rag").debug(
        "model and index loaded in %.2f s", time.perf_counter() - started
    )
    for qid, question in questions:
        t0 = time.perf_counter()
        answer = pipeline.ask(question)
        logging.getLogger("rag").debug("answer %.1f ms", (time.perf_counter() - t0) * 1000)
        if args.json or args.questions:
            record = answer_json(answer, names)
            if qid is not None:
                record = {"id": qid, **record}
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(format_answer(answer, names))
    return 0


def read_questions(path: Path) -> list[tuple[str, str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RagError(f"{path}: cannot read ({exc.strerror})") from exc
    out = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append((row["id"], row["question"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise RagError(f'{path}:{n}: expected {{"id": ..., "question": ...}}') from exc
    return out


def answer_json(answer, names: dict[str, str] | None = None) -> dict:
    """The `rag ask --json` contract (see README). ``names`` are the reports' readable
    titles (``rag.titles``); without them, the metadata title or the file name."""
    from rag.answering import confidence_words

    return {
        "question": answer.question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "abstain_reason": answer.reason,
        "confidence": answer.confidence,
        "confidence_words": confidence_words(answer),
        "citations": [
            {
                "n": c.n,
                "doc_id": c.hit.chunk.doc_id,
                "sentence": c.sentence,
                "passage_rank": c.hit.rank,
                "start": c.start,
                "end": c.end,
            }
            for c in answer.citations
        ],
        "passages": [
            {
                "rank": h.rank,
                "doc_id": h.chunk.doc_id,
                "title": (names or {}).get(h.chunk.doc_id) or h.doc.display_title,
                "source": h.doc.source,
                "section": h.chunk.section,
                "page": h.chunk.page_start,
                "text": h.chunk.text,
                "score": round(h.score, 6),
            }
            for h in answer.hits
        ],
    }


def format_answer(answer, names: dict[str, str] | None = None) -> str:
    from rag.answering import confidence_words
    from rag.ingest import printable

    lines = [f"Q: {answer.question}", ""]
    if answer.abstained:
        lines += [answer.text, answer.reason, "", "Closest passages:"]
    else:
        score = "probability" if answer.judged_by == "reader" else "similarity"
        lines += [textwrap.fill(answer.text, 100), ""]
        lines += [f"{confidence_words(answer)} ({score} {answer.confidence:.2f})", "", "Sources:"]
    for h in answer.hits:
        page = f"p. {h.chunk.page_start}" if h.chunk.page_start else None
        title = (names or {}).get(h.chunk.doc_id) or h.doc.display_title
        where = " - ".join(x for x in (title, h.chunk.section, page) if x)
        where = printable(where)
        lines.append(f"[{h.rank}] {where} (score {h.score:.4f})")
        lines.append(textwrap.indent(textwrap.fill(h.chunk.text, 96), "    "))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
