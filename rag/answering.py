"""Extractive, cited answers: sentences quoted verbatim from retrieved passages, or abstain.

The answer reader (``rag.reader``, on by default) judges the quotable sentences of the top
passages, giving each the probability that it answers; they are also scored by cosine
similarity to the question plus the share of question words they hold, which alone ranks
them with ``reader=false``. The answer leads with the best sentence and adds others that
score nearly as well (with the reader: that it judges to answer too). It abstains when
even the best is under the threshold: ``abstain_threshold`` for the similarity score, or
the reader's probability under its calibrated threshold. With the reader, the lead is
ranked by the reader's log-odds plus ``similarity_weight`` times the similarity score:
the two disagree on different questions, and together they put the answer first more
often on the validation split (``python -m rag.eval.calibrate``, which fits the weight
and the threshold). The reader reads the question with its patient named plainly
(``Query.reader_text``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from rag.answer_types import ANALYTES, PROCEDURES
from rag.chunking import quotable, quotable_sentences, split_sentences
from rag.config import AnsweringSettings
from rag.documents import Answer, Citation, Hit
from rag.embedding import Embedder
from rag.query import Query
from rag.reader.model import Reader, log_odds, probability
from rag.reader.passage import PassageReader
from rag.store import Store
from rag.terms import STOPWORDS
from rag.time_frame import frame

ABSTAIN_TEXT = "The indexed case reports do not answer this question."
LEXICAL_WEIGHT = 0.3  # weight of question-word coverage next to cosine similarity
RANK_PENALTY = 0.01  # per passage rank: prefer the better-retrieved passage on ties
MERGE_SIMILARITY = 0.9  # two sentences this similar say the same thing: keep one
MERGE_OVERLAP = 0.8  # the reader's path: two sentences sharing this share of words, too
KEEP_MARGIN = 0.08  # further sentences must score within this of the best (reader off)
LIKELY = 0.7  # reader probability from which an answer "likely answers"
TYPE_BONUS = 0.1  # a sentence stating the fact the question asks for


@dataclass
class Candidate:
    hit: Hit
    start: int
    end: int
    vector: np.ndarray | None = None
    score: float = 0.0  # what ranks the candidates
    similarity: float = 0.0  # cosine plus word coverage, less a little per passage rank
    probability: float | None = None  # the reader's, when it judges
    span: float | None = None  # the passage reader's best span in it, less "not here"

    @property
    def sentence(self) -> str:
        return self.hit.chunk.text[self.start : self.end]


def content_terms(text: str) -> set[str]:
    """Lower-cased content words cut to a 5-letter stem ("fixation" ~ "fixated")."""
    return {
        w[:5] for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS and len(w) > 1
    }


def _same_content(a: Candidate, b: Candidate) -> bool:
    """Two sentences that say the same thing (one is quoted, not both)."""
    if a.vector is not None and b.vector is not None:
        return float(a.vector @ b.vector) >= MERGE_SIMILARITY
    ta, tb = content_terms(a.sentence), content_terms(b.sentence)
    return len(ta & tb) >= MERGE_OVERLAP * min(len(ta), len(tb) or 1)


def coverage(question_terms: set[str], sentence: str) -> float:
    if not question_terms:
        return 0.0
    return len(question_terms & content_terms(sentence)) / len(question_terms)


def previous_sentences(candidates: list[Candidate]) -> list[str]:
    """The sentence before each candidate in its passage ("" at the passage's start or
    after a line break), for a reader that reads a sentence beside its neighbour."""
    spans: dict[int, list] = {}
    out = []
    for c in candidates:
        text = c.hit.chunk.text
        if c.hit.chunk.chunk_id not in spans:
            spans[c.hit.chunk.chunk_id] = split_sentences(text)
        before = [sp for sp in spans[c.hit.chunk.chunk_id] if sp.end <= c.start]
        gap = text[before[-1].end : c.start] if before else "\n"
        out.append(text[before[-1].start : before[-1].end] if not gap.strip(" \t") else "")
    return out


def confidence_log_odds(probability: float, span: float, weight: float) -> float:
    """The answer's confidence on the log-odds scale: the sentence reader's log-odds plus
    ``weight`` times the passage reader's span score (``Answerer._confidence``; the
    abstention fit in ``rag.eval.calibrate`` weighs it the same way)."""
    return float(log_odds(probability)) + weight * span


def confidence_words(answer: Answer) -> str:
    """The answer's confidence as a clinician reads it. Only the reader's probability says
    whether a sentence answers; the similarity score says how close it is."""
    if answer.abstained:
        return "does not answer"
    if answer.judged_by != "reader":
        return "closest match"
    return "likely answers" if answer.confidence >= LIKELY else "may answer"


class Answerer:
    def __init__(
        self,
        embedder: Embedder,
        settings: AnsweringSettings,
        store: Store | None = None,
        reader: Reader | None = None,
        passage_reader: PassageReader | None = None,
    ):
        self.embedder = embedder
        self.settings = settings
        self.store = store
        self.reader = reader
        self.passage_reader = passage_reader

    @property
    def judged_by(self) -> str:
        return "reader" if self.reader else "similarity"

    @property
    def threshold(self) -> float:
        if not self.reader:
            return self.settings.abstain_threshold
        return self.settings.reader_threshold or self.reader.answering["threshold"]

    @property
    def similarity_weight(self) -> float:
        """Weight of the similarity score beside the reader's log-odds (0: the reader alone)."""
        weight = self.settings.reader_similarity_weight
        return self.reader.answering["similarity_weight"] if weight < 0 else weight

    @property
    def abstain_span_weight(self) -> float:
        """Weight of the span score in the answer's confidence (0: the sentence reader's
        probability alone)."""
        if not self.reader or not self.passage_weight:
            return 0.0
        weight = self.settings.abstain_span_weight
        return self.reader.answering.get("abstain_span_weight", 0.0) if weight < 0 else weight

    @property
    def passage_weight(self) -> float:
        """Weight of the passage reader's span score in the ranking (0: not read)."""
        if not self.reader or not self.passage_reader:
            return 0.0
        weight = self.settings.passage_weight
        return self.reader.answering.get("passage_weight", 0.0) if weight < 0 else weight

    @property
    def depth(self) -> int:
        """How many retrieved passages the answerer may read (``Pipeline.passages``)."""
        return max(self.settings.answer_passages, self.settings.report_depth)

    def read_passages(self, hits: list[Hit]) -> list[Hit]:
        """The passages whose sentences may be quoted: the best ``answer_passages``, and
        further down to ``report_depth`` those of the report ranked first."""
        top = hits[: self.settings.answer_passages]
        if not top:
            return top
        report = top[0].chunk.doc_id
        deeper = hits[len(top) : self.settings.report_depth]
        return top + [h for h in deeper if h.chunk.doc_id == report]

    def candidates(self, hits: list[Hit]) -> list[Candidate]:
        """Quotable sentences of the passages read (with stored vectors where indexed)."""
        top = self.read_passages(hits)
        stored = {}
        if self.store and (not self.reader or self.similarity_weight):
            stored = self.store.sentences(h.chunk.chunk_id for h in top)
        out: list[Candidate] = []
        for hit in top:
            rows = stored.get(hit.chunk.chunk_id)
            if rows:  # indexed before a rule of ``quotable`` changed: apply it here too
                text = hit.chunk.text
                out += [Candidate(hit, a, b, v) for a, b, v in rows if quotable(text[a:b])]
            else:
                out += [
                    Candidate(hit, sp.start, sp.end) for sp in quotable_sentences(hit.chunk.text)
                ]
        return out

    def judge(self, query: Query, candidates: list[Candidate]) -> list[Candidate]:
        """Score the candidates: the similarity score, and with the reader the passage
        reader's span score and the sentence reader's probability, the latter for the
        ``reader_shortlist`` distinct sentences best by the first two (the others are
        dropped). The passage reader reads first because its score is the better guide to
        which sentences are worth the sentence reader's time."""
        weight = self.similarity_weight if self.reader else 0.0
        shortlist = self.settings.reader_shortlist if self.reader else 0
        over = shortlist and len({c.sentence for c in candidates}) > shortlist
        if not self.reader or weight or over:
            self.similarity_scores(query, candidates)
        if not self.reader:
            return candidates
        if self.passage_weight:
            self.span_scores(query, candidates)
        if over:
            leads = partial(self.may_lead, query)
            candidates = self.shortlisted(candidates, shortlist, self.passage_weight, leads)
        self.reader_scores(query, candidates)
        self.rank_by_reader(candidates, weight, self.passage_weight)
        self.favour_top_report(candidates)
        self.demote_other_time_frame(query, candidates)
        return candidates

    @staticmethod
    def shortlisted(
        candidates: list[Candidate],
        n: int,
        passage_weight: float = 0.0,
        leads: Callable[[str], bool] | None = None,
    ) -> list[Candidate]:
        """The candidates holding the ``n`` distinct sentences with the best similarity
        plus weighted span scores, in their order; those that may lead (``leads``: they
        state the kind of fact asked for) first, so that "no passage states one" stays
        true. The sentence reader's cost grows with the sentences it reads, and one that
        neither reader of the passage nor the question's meaning and words point to
        rarely answers."""

        def order(c: Candidate) -> tuple[bool, float]:
            lead = leads(c.sentence) if leads else True
            return (not lead, -(c.similarity + passage_weight * (c.span or 0)))

        kept: set[str] = set()
        for c in sorted(candidates, key=order):
            if len(kept) >= n:
                break
            kept.add(c.sentence)
        return [c for c in candidates if c.sentence in kept]

    def favour_top_report(self, candidates: list[Candidate]) -> None:
        """Lift the sentences of the report whose passage ranks first, by
        ``top_report_bonus`` in log-odds: among like case reports, a sentence stating a like
        fact of another patient is otherwise read as answering just as well."""
        bonus = self.settings.top_report_bonus
        if not bonus or not candidates:
            return
        top = min(candidates, key=lambda c: c.hit.rank).hit.chunk.doc_id
        for c in candidates:
            if c.hit.chunk.doc_id == top:
                c.score += bonus

    def demote_other_time_frame(self, query: Query, candidates: list[Candidate]) -> None:
        """Lower by ``time_frame_penalty`` in log-odds the sentences that place their fact in
        another part of the patient's course than the question does ("When she first
        presented ...?" against "At 6 months her palsy had improved to grade II")."""
        penalty = self.settings.time_frame_penalty
        asked = frame(query.text) if penalty else None
        if not asked:
            return
        for c in candidates:
            if frame(c.sentence) not in (None, asked):
                c.score -= penalty

    def reader_scores(self, query: Query, candidates: list[Candidate]) -> None:
        probabilities = self.reader.score(
            query.reader_text, [c.sentence for c in candidates], previous_sentences(candidates)
        )
        for c, p in zip(candidates, probabilities, strict=True):
            c.probability = float(p)

    def span_scores(self, query: Query, candidates: list[Candidate]) -> None:
        """The passage reader's score of each candidate, each passage read once under its
        section heading."""
        by_passage: dict[int, list[Candidate]] = {}
        for c in candidates:
            by_passage.setdefault(c.hit.chunk.chunk_id, []).append(c)
        passages = []
        for group in by_passage.values():
            chunk = group[0].hit.chunk
            heading = f"{chunk.section}\n" if chunk.section else ""
            spans = [(len(heading) + c.start, len(heading) + c.end) for c in group]
            passages.append((heading + chunk.text, spans))
        scores = self.passage_reader.score(query.reader_text, passages)
        for group, values in zip(by_passage.values(), scores, strict=True):
            for c, v in zip(group, values, strict=True):
                c.span = float(v)

    @staticmethod
    def rank_by_reader(
        candidates: list[Candidate], weight: float, passage_weight: float = 0.0
    ) -> None:
        """Rank by the reader's log-odds plus the weighted similarity score, plus the
        weighted span score where the passage reader has read."""
        odds = log_odds([c.probability for c in candidates])
        for c, o in zip(candidates, odds, strict=True):
            c.score = float(o) + weight * c.similarity + passage_weight * (c.span or 0.0)

    def answer(self, query: Query, hits: list[Hit]) -> Answer:
        """The answer from ``hits`` (retrieved to ``depth``); it shows the ``query.k``
        passages asked for, and any cited passage below them."""
        candidates = self.candidates(hits)
        if candidates and not self._unnamed(query, hits):
            candidates = self.judge(query, candidates)
        answer = self.decide(query, hits, candidates)
        cited = {c.hit.chunk.chunk_id for c in answer.citations}
        answer.hits = [h for i, h in enumerate(hits) if i < query.k or h.chunk.chunk_id in cited]
        return answer

    def eligible(self, query: Query, candidates: list[Candidate]) -> list[int]:
        """The candidates that may lead, best first: for a question asking for a kind of
        fact ("How old ...?"), only the sentences that state one."""
        order = [int(i) for i in np.argsort([-c.score for c in candidates], kind="stable")]
        return [i for i in order if self.may_lead(query, candidates[i].sentence)]

    def may_lead(self, query: Query, sentence: str) -> bool:
        """Whether the sentence states the kind of fact the question asks for, if any."""
        wanted = query.wanted if self.settings.answer_types else None
        return not wanted or wanted.stated_in(sentence, query.drugs)

    def closest(self, hits: list[Hit]) -> set[int]:
        """The chunk ids of the passages on which the answerer judges whether to answer."""
        return {h.chunk.chunk_id for h in hits[: self.settings.answer_passages]}

    def best_confidence(
        self, candidates: list[Candidate], leading: list[int], closest: set[int]
    ) -> float:
        """What the threshold is held against: the reader's best probability among the
        sentences that may lead, or the lead's similarity score, in the ``closest``
        passages only (chunk ids). Whether the corpus answers is judged where the threshold
        was calibrated; the passages read further down the top report only change which
        sentence is quoted, since each sentence more is one more chance for a near miss."""
        return max(
            (self._confidence(candidates[i]) for i in self.judged(candidates, leading, closest)),
            default=0.0,
        )

    @staticmethod
    def judged(candidates: list[Candidate], leading: list[int], closest: set[int]) -> list[int]:
        """The sentences whether to answer is judged on: those that may lead, in the
        ``closest`` passages (chunk ids)."""
        return [i for i in leading if candidates[i].hit.chunk.chunk_id in closest]

    def decide(self, query: Query, hits: list[Hit], candidates: list[Candidate]) -> Answer:
        """The answer from judged candidates, or an abstention with its reason."""
        question = query.text
        if not candidates:
            return self._abstain(question, hits, 0.0, "No passage matched the question.")
        missing = self._unnamed(query, hits)
        if missing:
            return self._abstain(
                question, hits, 0.0, f"None of the closest passages mentions {missing}."
            )
        leading = self.eligible(query, candidates)
        if not leading:
            best = max(self._confidence(c) for c in candidates)
            reason = f"None of the closest passages states {query.wanted.phrase}."
            return self._abstain(question, hits, best, reason)
        if len(leading) < len(candidates) and not self.reader:
            for i in leading:  # already in score order, and all lifted alike
                candidates[i].score += TYPE_BONUS
        best = self.best_confidence(candidates, leading, self.closest(hits))
        if best < self.threshold:
            reason = "No sentence of the closest passages answers the question closely enough."
            return self._abstain(question, hits, best, reason)
        may_lead = set(leading)
        rest = sorted(
            (i for i in range(len(candidates)) if i not in may_lead),
            key=lambda i: -candidates[i].score,
        )
        chosen = self._more(candidates, leading + rest)
        lead = self._confidence(candidates[chosen[0]])
        return self._compose(question, hits, [candidates[i] for i in chosen], lead)

    def _confidence(self, c: Candidate) -> float:
        """How likely the sentence answers: both readers' evidence on the sentence reader's
        scale, the passage reader's span score added to its log-odds (each reader tells a
        near miss from an answer in part, and they err on different questions); the
        similarity score without the reader."""
        if c.probability is None:
            return c.score
        weight = self.abstain_span_weight
        if not weight or c.span is None:
            return c.probability
        return float(probability(confidence_log_odds(c.probability, c.span, weight)))

    def similarity_scores(self, query: Query, candidates: list[Candidate]) -> None:
        """The scoring without the reader: cosine to the question plus word coverage."""
        missing = [c for c in candidates if c.vector is None]
        if missing:
            vectors = self.embedder.encode([c.sentence for c in missing], progress=False)
            for c, v in zip(missing, vectors, strict=True):
                c.vector = v
        q = query.vector if query.vector is not None else self.embedder.encode_query(query.text)
        terms = content_terms(query.text)
        for c in candidates:
            c.similarity = c.score = (
                float(c.vector @ q)
                + LEXICAL_WEIGHT * coverage(terms, c.sentence)
                - RANK_PENALTY * (c.hit.rank - 1)
            )

    def _more(self, candidates: list[Candidate], order: list[int]) -> list[int]:
        """The lead sentence, then others that answer too and do not repeat one chosen."""
        if self.reader:
            floor = max(self.threshold, self.settings.reader_keep)
        else:
            floor = max(candidates[order[0]].score - KEEP_MARGIN, self.threshold)
        chosen = [order[0]]
        for i in order[1:]:
            if len(chosen) >= self.settings.max_answer_sentences:
                break
            if self._confidence(candidates[i]) < floor:
                if not self.reader:
                    break  # similarity order: nothing after scores higher
                continue
            if not any(_same_content(candidates[i], candidates[j]) for j in chosen):
                chosen.append(i)
        return chosen

    def _unnamed(self, query: Query, hits: list[Hit]) -> str:
        """What the question names ("a or b": its drugs, else its analytes or procedures)
        when no passage it would quote names any of them; empty otherwise."""
        groups = (query.drugs, query.analytes, query.procedures)
        if not self.settings.answer_types or not any(groups):
            return ""
        evidence = " ".join(h.chunk.text for h in self.read_passages(hits))
        lower = evidence.lower()
        found = (
            lambda drug: drug in lower,
            lambda name: ANALYTES[name].search(evidence),
            lambda name: PROCEDURES[name].search(evidence),
        )
        for names, named in zip(groups, found, strict=True):
            if names and not any(named(name) for name in names):
                return " or ".join(names)
        return ""

    def _compose(self, question, hits, chosen: list[Candidate], confidence) -> Answer:
        """Best sentence first, the rest in reading order; one [n] per source passage.

        ``Answer.text`` is exactly ``" ".join(f"{c.sentence} [{c.n}]")`` over the
        citations, so a page can rebuild it with its own markup.
        """
        rest = sorted(chosen[1:], key=lambda c: (c.hit.rank, c.start))
        numbers: dict[int, int] = {}
        citations, parts = [], []
        for c in [chosen[0], *rest]:
            n = numbers.setdefault(c.hit.rank, len(numbers) + 1)
            citations.append(
                Citation(n=n, hit=c.hit, sentence=c.sentence, start=c.start, end=c.end)
            )
            parts.append(f"{c.sentence} [{n}]")
        text = " ".join(parts)
        return Answer(
            question, text, False, round(confidence, 4), citations, hits, "", self.judged_by
        )

    def _abstain(self, question: str, hits: list[Hit], confidence: float, reason: str) -> Answer:
        return Answer(
            question, ABSTAIN_TEXT, True, round(confidence, 4), [], hits, reason, self.judged_by
        )
