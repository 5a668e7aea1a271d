"""Which sentence states each card field: a small listwise model over sentence features.

For each field, every sentence of a case gets a score: the field's own evidence (the
reader's answer to the field's question, likeness to its kind of statement, its words,
its usual place, a heading that names it), weighed alike for all fields so that what is
learnt on one field carries to the others, plus features common to all fields, weighed
per field. The field quotes its best sentence unless its "none" score is higher: a
report that does not state a field leaves it blank. Fitted by
``python -m rag.reader.train_fields`` on hand-made cards of the written training
reports, as a softmax over each case's sentences plus "none".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_ARRAYS = ("shared_mean", "shared_scale", "own_mean", "own_scale", "weights", "own", "none")


@dataclass
class FieldModel:
    fields: list[str]
    shared_mean: np.ndarray  # features are standardised by the training cases' statistics
    shared_scale: np.ndarray
    own_mean: np.ndarray
    own_scale: np.ndarray
    weights: np.ndarray  # fields x shared features
    own: np.ndarray  # own-evidence features, the same weights for every field
    none: np.ndarray  # per field: the score a sentence must beat to be quoted, ...
    margin: float | Sequence[float]  # ... by this much, one for all fields or one each (picked
    # for few fields filled that a report leaves out)
    about: dict  # how it was fitted (data, regularisation, cross-validated accuracy)

    @classmethod
    def load(cls, path: Path) -> FieldModel:
        raw = json.loads(Path(path).read_text())
        arrays = {k: np.asarray(raw[k], dtype=np.float64) for k in _ARRAYS}
        return cls(raw["fields"], margin=raw["margin"], about=raw.get("about", {}), **arrays)

    def save(self, path: Path) -> None:
        arrays = {k: np.round(getattr(self, k), 6).tolist() for k in _ARRAYS}
        raw = {"fields": self.fields, "margin": self.margin, "about": self.about, **arrays}
        Path(path).write_text(json.dumps(raw, indent=1) + "\n")

    def scores(self, shared: np.ndarray, own: np.ndarray) -> np.ndarray:
        """Sentences x fields, from ``FieldReader.features``."""
        common = ((shared - self.shared_mean) / self.shared_scale) @ self.weights.T
        return common + ((own - self.own_mean) / self.own_scale) @ self.own

    def choose(self, shared: np.ndarray, own: np.ndarray) -> dict[str, int | None]:
        """Each field's sentence (its row), or None."""
        if not len(shared):
            return dict.fromkeys(self.fields)
        scores = self.scores(shared, own)
        best = scores.argmax(axis=0)
        margins = np.broadcast_to(np.asarray(self.margin, dtype=np.float64), self.none.shape)
        return {
            name: int(best[j]) if scores[best[j], j] > self.none[j] + margins[j] else None
            for j, name in enumerate(self.fields)
        }


@dataclass
class Case:
    """One training case: its sentences' features and, per field, the rows that hold the
    gold quote (empty: the case does not state the field; absent: no row holds it)."""

    shared: np.ndarray
    own: np.ndarray
    answers: dict[str, list[int]]


def fit(
    cases: list[Case],
    fields: list[str],
    l2: float,
    margin: float | Sequence[float] = 0.0,
    about: dict | None = None,
) -> FieldModel:
    """Maximum likelihood of each gold sentence (or of "none") under a softmax over the
    case's sentences plus the field's "none" score, with an L2 penalty on the weights."""
    import torch

    shared = np.vstack([c.shared for c in cases])
    own = np.vstack([c.own.reshape(-1, c.own.shape[-1]) for c in cases])
    s_mean, s_scale = shared.mean(axis=0), shared.std(axis=0) + 1e-6
    o_mean, o_scale = own.mean(axis=0), own.std(axis=0) + 1e-6
    # Cases padded to one length, so that one tensor expression scores them all.
    n = max(len(c.shared) for c in cases)
    pad = np.zeros((len(cases), n), dtype=bool)
    xs = np.zeros((len(cases), n, shared.shape[1]))
    xo = np.zeros((len(cases), n, *cases[0].own.shape[1:]))
    target = np.zeros((len(cases), n + 1, len(fields)), dtype=bool)  # last row: "none"
    labelled = np.zeros((len(cases), len(fields)), dtype=bool)
    for i, c in enumerate(cases):
        m = len(c.shared)
        pad[i, m:] = True
        xs[i, :m], xo[i, :m] = (c.shared - s_mean) / s_scale, (c.own - o_mean) / o_scale
        for j, name in enumerate(fields):
            if name in c.answers:
                labelled[i, j] = True
                target[i, c.answers[name] or [n], j] = True
    xs, xo, pad, target, labelled = map(torch.tensor, (xs, xo, pad, target, labelled))
    weights = torch.zeros((len(fields), shared.shape[1]), dtype=torch.float64, requires_grad=True)
    own_w = torch.zeros(own.shape[1], dtype=torch.float64, requires_grad=True)
    none = torch.zeros(len(fields), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS(
        [weights, own_w, none], max_iter=300, line_search_fn="strong_wolfe"
    )

    def loss():
        optimiser.zero_grad()
        scores = xs @ weights.T + xo @ own_w  # cases x sentences x fields
        scores = scores.masked_fill(pad[..., None], -torch.inf)
        logits = torch.cat([scores, none.expand(len(cases), 1, -1)], dim=1)
        wanted = logits.masked_fill(~target, -torch.inf)
        nll = torch.logsumexp(logits, 1) - torch.logsumexp(wanted, 1)  # cases x fields
        total = nll[labelled].mean() + l2 * ((weights * weights).sum() + (own_w * own_w).sum())
        total.backward()
        return total

    optimiser.step(loss)
    arrays = [a.detach().numpy() for a in (weights, own_w, none)]
    return FieldModel(fields, s_mean, s_scale, o_mean, o_scale, *arrays, margin, about or {})
