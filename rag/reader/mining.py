"""Hard negatives mined by a reader: the sentences it rates highest that do not answer.

Negatives picked by shared words are the sentences a word-matcher confuses with the
answer; a trained reader confuses others (the dural opening for "which suture closed the
dural tear"). A further round on the sentences the reader itself puts above the answer
trains where it is wrong, the second round of hard-negative training that dense retrievers
(ANCE, RocketQA) use.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from rag.reader.data import Group

Scorer = Callable[[str, list[str]], np.ndarray]


def mine(
    groups: list[Group], score: Scorer, hard: int, rand: int, rng: random.Random
) -> list[Group]:
    """Each group cut to its answers, the ``hard`` non-answers that ``score`` rates highest
    and ``rand`` of the others."""
    mined = []
    for n, g in enumerate(groups, start=1):
        if n % 500 == 0:
            print(f"mined {n}/{len(groups)} questions", flush=True)
        scores = score(g.question, g.sentences)
        negatives = [int(i) for i in np.argsort(-scores, kind="stable") if i not in g.positives]
        rest = negatives[hard:]
        keep = sorted(g.positives) + negatives[:hard] + rng.sample(rest, min(rand, len(rest)))
        mined.append(
            replace(
                g,
                sentences=[g.sentences[i] for i in keep],
                positives=set(range(len(g.positives))),
                contexts=[g.contexts[i] for i in keep] if g.contexts else [],
            )
        )
    return mined


def torch_scorer(model, tokenizer, max_tokens: int, batch: int = 64) -> Scorer:
    """A scorer from the model being trained, before its first step."""
    import torch

    model.eval()  # no dropout while mining; training switches it back

    def score(question: str, sentences: list[str]) -> np.ndarray:
        logits = []
        with torch.no_grad():
            for start in range(0, len(sentences), batch):
                part = sentences[start : start + batch]
                encoded = tokenizer(
                    [question] * len(part),
                    part,
                    truncation="only_second",
                    max_length=max_tokens,
                    padding=True,
                    return_tensors="pt",
                )
                logits.append(model(**encoded).logits.reshape(-1).numpy())
        return np.concatenate(logits) if logits else np.zeros(0)

    return score
