"""Fit how the answerer uses the reader, on the reader's validation split run end to end.

``python -m rag.eval.calibrate`` indexes the written case reports that training held out
(``rag.reader.data.validation_reports``), asks each of their questions through the same
pipeline as ``rag ask``, and fits two numbers that the reader's own validation (one
question, a few sentences) cannot: the weight of the similarity score beside the reader's
log-odds when ranking the retrieved sentences, and the probability under which the
answer abstains. They go to ``rag/reader/model/answering.json``. Never the project's gold
sets or the benchmarks: those report what the fit does.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.answering import confidence_log_odds
from rag.config import load_settings
from rag.eval.cache import corpus_index
from rag.eval.gold import GoldQuestion
from rag.eval.metrics import score_answer
from rag.reader.data import validation_reports
from rag.reader.model import ANSWERING_FILE, MODEL_DIR, log_odds, probability

WEIGHTS = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0)
PASSAGE_WEIGHTS = (0.0, 0.25, 0.5, 1.0)  # the passage reader's span score, where it ships
ABSTAIN_SPAN_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2)  # ... in the answer's confidence
# A false abstention hides an answer the corpus holds; an answered near miss misleads.
# Validation is written prose, and the reader rates extracted journal text lower, so the
# cut keeps half the share of answerable questions abstaining that CaseQA aims at (10%).
FALSE_ABSTENTION = 0.05


@dataclass
class Outcome:
    """One validation question: is the lead right at each pair of weights (similarity,
    passage reader); the best probability."""

    answerable: bool
    right: dict[tuple[float, float], bool] = field(default_factory=dict)
    best: float = 0.0  # what the threshold is held against; 0: abstains whatever it is
    # (probability, span score) of each sentence that may lead in the closest passages
    evidence: list[tuple[float, float]] = field(default_factory=list)


def write_validation_set(
    folder: Path, reports: list[dict] | None = None
) -> tuple[Path, list[GoldQuestion]]:
    """The held-out reports (or ``reports``) as a corpus of text files, and their
    questions as gold, each named ``{report}-{n}``."""
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    questions = []
    for report in validation_reports() if reports is None else reports:
        doc_id, text = str(report["id"]), report["text"]
        (corpus / f"{doc_id}.txt").write_text(text, encoding="utf-8")
        for n, qa in enumerate(report["questions"]):
            answer = qa.get("answer")
            if answer and text.count(answer) != 1:
                continue  # no single place holds it: no clean label
            questions.append(
                GoldQuestion(
                    f"{doc_id}-{n}", qa["q"], [doc_id] if answer else [],
                    [answer] if answer else [], bool(answer),
                )
            )  # fmt: skip
    return corpus, questions


def outcomes(
    folder: Path, reports: list[dict] | None = None, shipped_only: bool = False
) -> list[Outcome]:
    """Ask every validation question once, of its own report; re-rank its sentences at
    every weight.

    Of its own report, as "Ask this report" does: the written reports come in families of
    alike cases, and many of their questions name no patient ("What was her ESR?"). Asked
    of all of them at once, half the answers lay in another report's passages (hit rate@5
    0.49), so the fit measured which report retrieval guessed, not how the reader reads.
    """
    from rag.pipeline import Pipeline
    from rag.query import Filters

    corpus, questions = write_validation_set(folder, reports)
    settings = load_settings(reader=True, reader_threshold=1e-9)
    pipeline = Pipeline(corpus_index(corpus, settings, folder / "cache"))
    answerer = pipeline.answerer
    spans = answerer.passage_reader.path.exists()
    grid = [(w, p) for w in WEIGHTS for p in (PASSAGE_WEIGHTS if spans else (0.0,))]
    if shipped_only:  # only the abstention is fitted: rank as shipped
        grid = [(answerer.similarity_weight, answerer.passage_weight)]
    out = []
    for q in questions:
        report = q.id.rpartition("-")[0]
        query = pipeline.query(q.question, filters=Filters(doc_ids=frozenset({report})))
        hits = pipeline.passages(query)
        candidates = answerer.candidates(hits)
        outcome = Outcome(q.answerable)
        if candidates:
            answerer.similarity_scores(query, candidates)
            answerer.reader_scores(query, candidates)
            if spans:
                answerer.span_scores(query, candidates)
        for weights in grid:
            if candidates:
                answerer.rank_by_reader(candidates, *weights)
            answer = answerer.decide(query, hits, candidates)
            outcome.right[weights] = bool(score_answer(q, answer)["answer_correct"])
        if not answer.abstained:  # what may lead, and its best, do not move with the weight
            leading = answerer.eligible(query, candidates)
            closest = answerer.closest(hits)
            outcome.best = answerer.best_confidence(candidates, leading, closest)
            outcome.evidence = [
                (candidates[i].probability, candidates[i].span or 0.0)
                for i in answerer.judged(candidates, leading, closest)
            ]
        out.append(outcome)
    return out


def fit(results: list[Outcome]) -> dict:
    """The weights that lead with the answer most often (the smaller on a tie, the
    passage reader's first), and the highest threshold at which at most
    ``FALSE_ABSTENTION`` of answerable questions abstain."""
    answerable = [o for o in results if o.answerable]
    unanswerable = [o for o in results if not o.answerable]
    grid = list(answerable[0].right)
    first = {w: sum(o.right[w] for o in answerable) / len(answerable) for w in grid}
    weight = max(grid, key=lambda w: (first[w], -w[1], -w[0]))
    bests = sorted(o.best for o in answerable)
    allowed = int(FALSE_ABSTENTION * len(answerable))
    threshold = bests[allowed] if bests[allowed] > 0 else 1e-6
    right = sum(o.right[weight] and o.best >= threshold for o in answerable)
    return {
        "similarity_weight": weight[0],
        "passage_weight": weight[1],
        "threshold": round(threshold, 4),
        "rule": f"weights: most answers first; threshold: at most {FALSE_ABSTENTION:.0%} of "
        "answerable validation questions abstain",
        "validation": {
            "questions": len(results),
            "first_cited_by_weights": {f"{w}, {p}": round(v, 4) for (w, p), v in first.items()},
            "first_cited": round(right / len(answerable), 4),
            "answered": round(sum(o.best >= threshold for o in answerable) / len(answerable), 4),
            "abstained": round(
                sum(o.best < threshold for o in unanswerable) / max(1, len(unanswerable)), 4
            ),
        },
    }


def confidence(outcome: Outcome, weight: float) -> float:
    """The question's best confidence on the log-odds scale (``Answerer._confidence``)."""
    return max((confidence_log_odds(p, s, weight) for p, s in outcome.evidence), default=-np.inf)


def fit_abstention(results: list[Outcome], previous: tuple[float, float]) -> dict:
    """The weight of the span score in the answer's confidence (``Answerer._confidence``)
    at which the most unanswerable validation questions abstain (the smaller on a tie), and
    its threshold, each weight's cut letting as many answerable validation questions
    abstain as under the ``previous`` (weight, threshold) do: only how the answerer judges
    changes, not the share of answers it withholds."""
    answerable = [o for o in results if o.answerable]
    unanswerable = [o for o in results if not o.answerable]
    old_weight, old_threshold = previous
    old_cut = float(log_odds(old_threshold))
    withheld = sum(confidence(o, old_weight) < old_cut for o in answerable)

    cuts = {w: sorted(confidence(o, w) for o in answerable)[withheld] for w in ABSTAIN_SPAN_WEIGHTS}
    by_weight = {
        w: sum(confidence(o, w) < cut for o in unanswerable) / max(1, len(unanswerable))
        for w, cut in cuts.items()
    }
    weight = max(ABSTAIN_SPAN_WEIGHTS, key=lambda w: (by_weight[w], -w))
    return {
        "abstain_span_weight": weight,
        "threshold": round(float(probability(cuts[weight])), 4),
        "abstention_fit": {
            "rule": "the span weight at which the most unanswerable validation questions "
            "abstain, each weight's threshold letting as many answerable ones abstain as "
            f"weight {old_weight} and threshold {old_threshold} did ({withheld} of "
            f"{len(answerable)})",
            "questions": len(results),
            "unanswerable_abstained_by_weight": {str(w): round(v, 4) for w, v in by_weight.items()},
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=Path("build/calibration"))
    parser.add_argument("--out", type=Path, default=MODEL_DIR / ANSWERING_FILE)
    parser.add_argument(
        "--abstention",
        action="store_true",
        help="fit only the span score's weight in the answer's confidence and its threshold, "
        "at the shipped share of answerable validation questions abstaining; the ranking as "
        "shipped",
    )
    args = parser.parse_args(argv)
    if args.abstention:
        fitted = json.loads((MODEL_DIR / ANSWERING_FILE).read_text(encoding="utf-8"))
        previous = (fitted.get("abstain_span_weight", 0.0), fitted["threshold"])
        fitted.update(fit_abstention(outcomes(args.work_dir, shipped_only=True), previous))
    else:
        fitted = fit(outcomes(args.work_dir))
    args.out.write_text(json.dumps(fitted, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(fitted, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    from rag.errors import run_as_script

    run_as_script(main, 2)
