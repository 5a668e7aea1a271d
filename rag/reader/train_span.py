"""Train the passage reader: an extractive reader that reads a question with a whole
passage and marks where the answer starts and ends (``python -m rag.reader.train_span``).

Why a second reader: the sentence reader judges each sentence alone, so it cannot tell
this patient's fact from the Discussion's general statement on the same topic, or a
sibling fact from the one asked for. An extractive reader sees the passage around each
sentence, and is trained on the exact answer span rather than on its sentence.

Examples are windows of a report or article (the question, then up to ``MAX_TOKENS``
word pieces of text, overlapping by ``STRIDE``): a window that holds the answer span
points at it; a window that does not, and every window of an unanswerable question,
points at ``[CLS]`` (no answer here). Windows without the answer are few and hard: the
ones closest to the question in words. Reports are split between training and
validation by ``data.held_out``, as for the sentence reader, so the answerer's
calibration set is never trained on.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from rag.reader.data import CASE_REPORTS, DATA_DIR, held_out, jsonl_rows
from rag.reader.train import optimise

MAX_TOKENS = 256  # question + passage word pieces: an index passage is at most 200
STRIDE = 64  # word pieces two windows of one text share
SEED = 13
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class Example:
    question: str
    context: str
    answer_start: int  # character offsets in ``context``; -1: no answer in this text
    answer_end: int
    article: str


def _case_reports(folder: Path) -> list[Example]:
    examples = []
    for report in jsonl_rows(folder):
        text = report["text"]
        for qa in report["questions"]:
            answer = qa.get("answer")
            if answer and text.count(answer) != 1:
                continue  # the span is ambiguous: no clean label
            start = text.find(answer) if answer else -1
            end = start + len(answer) if answer else -1
            examples.append(Example(qa["q"], text, start, end, str(report["id"])))
    return examples


def _squad_layout(path: Path) -> list[Example]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data = json.load(f)["data"]
    examples = []
    for n, article in enumerate(data):
        for para in article["paragraphs"]:
            name = str(article.get("title") or para.get("document_id") or n)
            for qa in para["qas"]:
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                if answers:
                    a = answers[0]
                    start = int(a["answer_start"])
                    end = start + len(a["text"])
                else:
                    start = end = -1
                examples.append(Example(qa["question"], para["context"], start, end, name))
    return examples


def load_examples(source: str, data_dir: Path = DATA_DIR) -> list[Example]:
    path = data_dir / source
    return _case_reports(path) if source == CASE_REPORTS else _squad_layout(path)


def _overlap(question: str, text: str) -> float:
    q = set(_WORD.findall(question.lower()))
    return len(q & set(_WORD.findall(text.lower()))) / (len(q) or 1)


@dataclass
class Window:
    input_ids: list[int]
    token_type_ids: list[int]
    start: int  # token positions of the answer; 0 ([CLS]) when the window lacks it
    end: int


def windows(tokenizer, examples: list[Example], negatives: int, rng: random.Random):
    """Each example's windows that hold its answer, and ``negatives`` that do not (the
    closest in words; twice as many for an unanswerable question)."""
    out: list[Window] = []
    for ex in examples:
        enc = tokenizer(
            ex.question,
            ex.context,
            truncation="only_second",
            max_length=MAX_TOKENS,
            stride=STRIDE,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        holding, lacking = [], []
        for i, offsets in enumerate(enc["offset_mapping"]):
            seq = enc.sequence_ids(i)
            ctx = [t for t, s in enumerate(seq) if s == 1]
            first, last = ctx[0], ctx[-1]
            ids, types = enc["input_ids"][i], enc["token_type_ids"][i]
            if (
                ex.answer_start >= 0
                and offsets[first][0] <= ex.answer_start
                and offsets[last][1] >= ex.answer_end
            ):
                s = next(t for t in ctx if offsets[t][1] > ex.answer_start)
                e = next(t for t in reversed(ctx) if offsets[t][0] < ex.answer_end)
                holding.append(Window(ids, types, s, e))
            else:
                text = ex.context[offsets[first][0] : offsets[last][1]]
                negative = Window(ids, types, 0, 0)
                lacking.append((_overlap(ex.question, text), rng.random(), negative))
        if ex.answer_start >= 0 and not holding:
            continue  # the answer is longer than a window
        lacking.sort(key=lambda t: (-t[0], t[1]))
        keep = negatives if holding else 2 * negatives
        out.extend(holding + [w for *_, w in lacking[:keep]])
    return out


def _batches(items: list[Window], size: int, rng: random.Random):
    """Batches of windows of similar length (less padding), in random order."""
    order = sorted(range(len(items)), key=lambda i: (len(items[i].input_ids), rng.random()))
    batches = [[items[i] for i in order[s : s + size]] for s in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def _tensors(batch: list[Window]):
    import torch

    width = max(len(w.input_ids) for w in batch)

    def pad(rows):
        return torch.tensor([r + [0] * (width - len(r)) for r in rows])

    return dict(
        input_ids=pad([w.input_ids for w in batch]),
        token_type_ids=pad([w.token_type_ids for w in batch]),
        attention_mask=pad([[1] * len(w.input_ids) for w in batch]),
        start_positions=torch.tensor([w.start for w in batch]),
        end_positions=torch.tensor([w.end for w in batch]),
    )


def export(checkpoint: Path, out: Path) -> Path:
    """The checkpoint traced to fp32 ONNX beside it and quantised to int8 into ``out``:
    one output, ``span_logits`` [batch, tokens, 2] (answer start, answer end)."""
    import torch
    from transformers import AutoModelForQuestionAnswering

    from rag.embedding import quantize_onnx, trace_to_onnx
    from rag.reader.passage import PASSAGE_FILE

    class SpanLogits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, **inputs):
            out = self.inner(**inputs)
            return SimpleNamespace(
                span_logits=torch.stack([out.start_logits, out.end_logits], dim=-1)
            )

    model = AutoModelForQuestionAnswering.from_pretrained(
        str(checkpoint), local_files_only=True, attn_implementation="eager"
    ).eval()
    fp32 = checkpoint / "passage_fp32.onnx"
    trace_to_onnx(SpanLogits(model), "span_logits", fp32)
    out.mkdir(parents=True, exist_ok=True)
    quantize_onnx(fp32, out / PASSAGE_FILE, op_types=("MatMul", "Gather"))
    shutil.copy(checkpoint / "tokenizer.json", out / "tokenizer.json")
    return out / PASSAGE_FILE


def training_examples(replay: int, rng: random.Random) -> list[Example]:
    """The written reports' training side, and ``replay`` questions of each public set."""
    reports = [e for e in load_examples(CASE_REPORTS) if not held_out(e.article)]
    chosen = list(reports)
    for source in ("covid-qa.json.gz", "squad2-dev-half.json.gz"):
        pool = load_examples(source)
        chosen += rng.sample(pool, min(replay, len(pool)))
    return chosen


def train(args: argparse.Namespace) -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from rag.config import bundled_model_dir
    from rag.reader.model import MODEL_FILE
    from rag.reader.unpack import checkpoint_from_onnx

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    rng = random.Random(SEED)
    work = Path(args.work_dir)
    base = Path(args.base or bundled_model_dir())
    if (base / MODEL_FILE).exists() and not (base / "config.json").exists():
        base = checkpoint_from_onnx(base, work / "base")  # the shipped sentence reader
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = AutoModelForQuestionAnswering.from_pretrained(
        str(base), num_labels=2, local_files_only=True
    )
    examples = training_examples(args.replay, rng)
    if args.limit:
        examples = rng.sample(examples, min(args.limit, len(examples)))
    items = windows(tokenizer, examples, args.negatives, rng)
    batches = [b for _ in range(args.epochs) for b in _batches(items, args.batch, rng)]
    if args.max_steps:
        batches = batches[: args.max_steps]
    print(f"{len(examples)} questions, {len(items)} windows, {len(batches)} steps", flush=True)
    minutes = optimise(model, batches, args.lr, lambda batch: model(**_tensors(batch)).loss)
    model.eval()
    checkpoint = work / "checkpoint"
    model.save_pretrained(checkpoint)
    tokenizer.save_pretrained(checkpoint)
    report = dict(
        base=str(args.base or "bundled"),
        questions=len(examples),
        windows=len(items),
        steps=len(batches),
        batch=args.batch,
        lr=args.lr,
        epochs=args.epochs,
        replay=args.replay,
        negatives=args.negatives,
        seed=SEED,
        train_minutes=round(minutes, 1),
    )
    export(checkpoint, Path(args.out))
    (Path(args.out) / "passage_training.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return checkpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="rag/reader/model", help="checkpoint or shipped reader")
    parser.add_argument("--work-dir", default="build/span")
    parser.add_argument("--out", default="build/span/model", help="where the int8 ONNX goes")
    parser.add_argument("--replay", type=int, default=1000, help="questions of each public set")
    parser.add_argument("--negatives", type=int, default=1, help="windows without the answer")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="train on this many questions")
    train(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
