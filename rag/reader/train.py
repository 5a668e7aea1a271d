"""Fine-tune the answer reader: ``python -m rag.reader.train``.

A cross-encoder reads ``[CLS] question [SEP] sentence [SEP]`` and gives the probability
that the sentence answers the question. It starts from the bundled all-MiniLM-L6-v2
weights (nothing is fetched), trains one pass over the bundled reading-comprehension
sets with a binary cross-entropy loss, calibrates the abstention threshold on the
validation split, and exports ONNX (fp32 and int8) beside a model card.

``--loss listwise`` adds, for each question, a softmax over its candidate sentences plus
a "no answer" logit fixed at 0: the answerer quotes the best of a question's sentences,
so the loss asks for the answer to beat its siblings, not only to clear 0.5 alone.
``--context`` has the model read each sentence followed by the one before it (for a
quarter of the questions, the sentence alone, as the case cards ask).
``--mine N`` gives each written report's question, as negatives, the ``N`` sentences that
the starting model rates highest among the report's closest ones (``mining.py``), and
``--base rag/reader/model`` starts from the shipped int8 reader (``unpack.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.reader import calibration, mining
from rag.reader.data import (
    CASE_RANDOM_NEGATIVES,
    CASE_REPORTS,
    CASE_VALIDATION_SHARE,
    DATA_DIR,
    SOURCES,
    Group,
    Pair,
    load_case_reports,
    pairs,
    split_by_hash,
    training_sets,
)
from rag.reader.model import MAX_TOKENS, MODEL_DIR, MODEL_FILE, Reader, with_context

SEED = 13
CONTEXT_DROPPED = 0.25  # share of training questions read without the previous sentences
MINE_POOL = 24  # --mine: a report's sentences closest in words, that the model then ranks


def _batches(items: list[Pair], size: int, rng: random.Random) -> list[list[Pair]]:
    """Shuffled batches of similar length: little padding, so each step is cheap."""
    items = items[:]
    rng.shuffle(items)
    pool = size * 50
    batches: list[list[Pair]] = []
    for start in range(0, len(items), pool):
        chunk = sorted(items[start : start + pool], key=lambda p: len(p.question) + len(p.sentence))
        batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
    rng.shuffle(batches)
    return batches


def _group_batches(groups: list[Group], size: int, rng: random.Random) -> list[list[Group]]:
    """Shuffled batches of whole questions holding about ``size`` sentences each."""
    groups = groups[:]
    rng.shuffle(groups)
    batches: list[list[Group]] = [[]]
    for g in groups:
        if batches[-1] and sum(len(x.sentences) for x in batches[-1]) + len(g.sentences) > size:
            batches.append([])
        batches[-1].append(g)
    return [b for b in batches if b]


def _with_contexts(groups: list[Group], rng: random.Random) -> list[Group]:
    """The groups as a context-reading model reads them: sentence, separator, the one
    before it; some groups without, so that the sentence alone still reads well."""
    return [
        g
        if rng.random() < CONTEXT_DROPPED or not g.contexts
        else replace(
            g, sentences=[with_context(s, c) for s, c in zip(g.sentences, g.contexts, strict=True)]
        )
        for g in groups
    ]


def _replayed(groups: list[Group], most: int, rng: random.Random) -> list[Group]:
    """At most ``most`` groups (0: all): a further round on case reports replays a
    sample of the older sources, so that what was learnt there is kept."""
    return rng.sample(groups, most) if 0 < most < len(groups) else groups


def _encode(tokenizer, batch: list[Pair]):
    return tokenizer(
        [p.question for p in batch],
        [p.sentence for p in batch],
        truncation="only_second",
        max_length=MAX_TOKENS,
        padding=True,
        return_tensors="pt",
    )


def _is_new(group: Group, writers: list[str]) -> bool:
    """A written report's question from one of ``writers`` (``w13`` for ``w13-04``), or
    any written report's when no writers are named."""
    return not writers or group.article.split("-")[0] in writers


def _training_groups(args: argparse.Namespace, rng: random.Random) -> tuple[list, dict]:
    """The training question groups and the validation split, both cut down by ``--limit``.
    The new written reports are taken whole; the other sources, and the written reports
    of earlier rounds when ``--new-reports`` names the new ones, are replayed (``--replay``).
    With ``--mine`` the written reports' groups hold the pool the model mines from."""
    by_source, validation = training_sets(
        args.data_dir, args.validation_share, SEED, tuple(args.sources)
    )
    reports = by_source.pop(CASE_REPORTS, [])
    if args.mine and CASE_REPORTS in args.sources:
        pool = load_case_reports(args.data_dir / CASE_REPORTS, SEED, hard=MINE_POOL, rand=0)
        reports = split_by_hash(pool, CASE_VALIDATION_SHARE)[0]
    by_source["earlier reports"] = [g for g in reports if not _is_new(g, args.new_reports)]
    train_groups = [g for g in reports if _is_new(g, args.new_reports)] + [
        g for groups in by_source.values() for g in _replayed(groups, args.replay, rng)
    ]
    if args.limit:
        train_groups = rng.sample(train_groups, min(args.limit, len(train_groups)))
        validation = {k: v[: max(20, args.limit // 10)] for k, v in validation.items()}
    return train_groups, validation


def _mined(groups: list[Group], score: mining.Scorer, hard: int, rng: random.Random) -> list:
    """The written reports' groups (``load_case_reports`` names each question
    ``{report}-{n}``) with negatives mined by the starting model; the others as they are."""
    written = [g for g in groups if g.qid.rpartition("-")[0] == g.article]
    started = time.time()
    mined = {g.qid: g for g in mining.mine(written, score, hard, CASE_RANDOM_NEGATIVES, rng)}
    print(f"mined {len(written)} questions in {(time.time() - started) / 60:.1f} min", flush=True)
    return [mined.get(g.qid, g) for g in groups]


def _listwise_loss(logits, batch: list[Group]):
    """Cross-entropy of each question's answer (or of "no answer") under a softmax over
    its sentences' logits and a fixed 0 for "no answer"."""
    import torch

    losses, start = [], 0
    for g in batch:
        scores = torch.cat([logits[start : start + len(g.sentences)], logits.new_zeros(1)])
        start += len(g.sentences)
        wanted = sorted(g.positives) or [len(g.sentences)]
        losses.append(torch.logsumexp(scores, 0) - torch.logsumexp(scores[wanted], 0))
    return torch.stack(losses).mean()


def optimise(model, batches: list, lr: float, loss_of) -> float:
    """Fine-tune ``model`` over ``batches`` (AdamW, linear warm-up, clipped gradients),
    ``loss_of(batch)`` giving each step's loss; returns the minutes."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimiser, len(batches) // 10, len(batches))
    model.train()
    started = time.time()
    for step, batch in enumerate(batches, start=1):
        loss = loss_of(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        if step % 50 == 0 or step == len(batches):
            rate = step / (time.time() - started)
            print(
                f"step {step}/{len(batches)} loss {loss.item():.4f} {rate:.2f} steps/s", flush=True
            )
    return (time.time() - started) / 60


def _fit(model, tokenizer, batches: list, lr: float) -> float:
    """Fine-tune the sentence reader; batches of :class:`Group` add the listwise loss to
    the pointwise one."""
    import torch

    loss_fn = torch.nn.BCEWithLogitsLoss()

    def loss_of(batch):
        groups = batch if isinstance(batch[0], Group) else None
        if groups:
            batch = pairs(groups)
        logits = model(**_encode(tokenizer, batch)).logits.squeeze(-1)
        loss = loss_fn(logits, torch.tensor([p.label for p in batch]))
        return loss + _listwise_loss(logits, groups) if groups else loss

    return optimise(model, batches, lr, loss_of)


def train(args: argparse.Namespace) -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    from rag.config import bundled_model_dir
    from rag.reader.unpack import checkpoint_from_onnx

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    rng = random.Random(SEED)
    train_groups, validation = _training_groups(args, rng)
    base = Path(args.base or bundled_model_dir())
    shipped = None  # an int8 reader to start from: it also mines, 4x faster than torch
    if (base / MODEL_FILE).exists() and not (base / "config.json").exists():
        shipped = Reader(base)
        base = checkpoint_from_onnx(base, Path(args.work_dir) / "base")
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base), num_labels=1, local_files_only=True
    )
    if args.mine:
        score = shipped.score if shipped else mining.torch_scorer(model, tokenizer, MAX_TOKENS)
        train_groups = _mined(train_groups, score, args.mine, rng)
    if args.context:
        train_groups = _with_contexts(train_groups, random.Random(SEED + 1))
    if args.loss == "listwise":
        batches = [
            b for _ in range(args.epochs) for b in _group_batches(train_groups, args.batch, rng)
        ]
    else:
        batches = [
            b for _ in range(args.epochs) for b in _batches(pairs(train_groups), args.batch, rng)
        ]
    if args.max_steps:
        batches = batches[: args.max_steps]
    minutes = _fit(model, tokenizer, batches, args.lr)
    model.eval()
    checkpoint = Path(args.work_dir) / "checkpoint"
    model.save_pretrained(checkpoint)
    tokenizer.save_pretrained(checkpoint)
    calibrate_on = CASE_REPORTS if validation.get(CASE_REPORTS) else "all"
    report = calibration.export_and_calibrate(
        checkpoint, Path(args.out), validation, train_groups, calibrate_on, args.context
    )
    report.update(
        base=base.parent.name if base.name == "model" else base.name,
        sources=list(args.sources),
        replay=args.replay,
        new_reports=args.new_reports,
        train_questions=len(train_groups),
        train_pairs=sum(
            sum(len(g.sentences) for g in b) if isinstance(b[0], Group) else len(b) for b in batches
        ),
        steps=len(batches),
        epochs=args.epochs,
        batch=args.batch,
        lr=args.lr,
        loss=args.loss,
        context=args.context,
        mined=args.mine,
        seed=SEED,
        train_minutes=round(minutes, 1),
    )
    (Path(args.out) / "training.json").write_text(json.dumps(report, indent=2) + "\n")
    calibration.write_card(Path(args.out), report)
    print(json.dumps(report, indent=2))
    return Path(args.out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--out", type=Path, default=MODEL_DIR, help="where the model ships")
    parser.add_argument("--work-dir", type=Path, default=Path("build/reader"))
    parser.add_argument("--base", help="checkpoint to start from (default: the bundled MiniLM)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument(
        "--loss",
        choices=("pointwise", "listwise"),
        default="pointwise",
        help="listwise: also a softmax over each question's sentences and 'no answer'",
    )
    parser.add_argument(
        "--context", action="store_true", help="read each sentence with the one before it"
    )
    parser.add_argument(
        "--mine",
        type=int,
        default=0,
        metavar="N",
        help="written reports: the N non-answers the starting model rates highest (0: by words)",
    )
    parser.add_argument("--max-steps", type=int, default=0, help="stop early (0: all)")
    parser.add_argument("--limit", type=int, default=0, help="train on this many questions")
    parser.add_argument("--validation-share", type=float, default=0.1)
    parser.add_argument("--sources", nargs="+", default=list(SOURCES), help="data files used")
    parser.add_argument(
        "--replay", type=int, default=0, help="at most this many groups per older source (0: all)"
    )
    parser.add_argument(
        "--new-reports",
        nargs="*",
        default=[],
        metavar="WRITER",
        help="train on these writers' reports (w13 ...) and replay the others (default: all)",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    train(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["Group", "main", "train"]
