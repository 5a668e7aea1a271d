"""The question, worked out once: a :class:`Query` that every stage and the answerer read.

Abbreviations are expanded from the corpus itself.

A clinician writes "SSc"; the case report that defines it writes "systemic sclerosis
(SSc)" once and then either form. The definition is found with the Schwartz-Hearst
algorithm in the indexed passages that use the abbreviation, so no medical dictionary
is needed and the expansion always matches how this corpus speaks.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from abbreviations import schwartz_hearst

from rag.answer_types import AnswerType
from rag.documents import DocInfo
from rag.store import Store

# How a clinician names the patient so that retrieval finds the right report ("... in the
# SSc patient with calcinosis?", "... of the 57-year-old woman?"), at the end of the
# question or of a clause.
_PATIENT_NAMING = re.compile(
    r"\b(in|of|for|to|with) the (?:[\w-]+ ){0,3}?"
    r"(?:patient|woman|man|girl|boy|child|infant|case|\d+-year-old)\b"
    r"(?: (?:with|who) [^,?]*)?(?=[,?]|$)",
    re.I,
)
# A question led by its topic, as a clinician types one ("Charcot spine at L2-L3: how much
# kyphosis ...?", "mechanism - why is ... added?"): the topic, then a colon
# or a spaced dash, then the question proper.
_QUESTION_WORD = (
    r"(?:what|which|how|when|where|why|who|whose|did|does|do|was|were|is|are|has|had|can)\b"
)
_TOPIC_LED = re.compile(
    rf"^(?!{_QUESTION_WORD})[^:?]{{8,}}?(?::| [-\u2013\u2014]) +(?={_QUESTION_WORD})", re.I
)
_ABBREVIATION = re.compile(r"\b(?=[A-Za-z0-9]*[A-Z][A-Za-z0-9]*[A-Z])[A-Za-z][A-Za-z0-9]{1,7}\b")


@dataclass(frozen=True)
class Filters:
    """Restrict hits to some documents and/or a range of publication years."""

    doc_ids: frozenset[str] | None = None
    year_min: int | None = None
    year_max: int | None = None

    @property
    def active(self) -> bool:
        return bool(self.doc_ids) or self.year_min is not None or self.year_max is not None

    def allows(self, doc: DocInfo) -> bool:
        if self.doc_ids and doc.doc_id not in self.doc_ids:
            return False
        if self.year_min is not None and (doc.year is None or doc.year < self.year_min):
            return False
        return self.year_max is None or (doc.year is not None and doc.year <= self.year_max)


@dataclass(frozen=True, eq=False)
class Query:
    """A question with everything the stages need, computed once.

    ``words`` is the lexical side's wording (abbreviations expanded: the dense model reads
    "SSc" well enough, and long forms appended to its input shift the question's
    meaning); ``vector`` is None in lexical mode.
    """

    text: str
    words: str
    vector: np.ndarray | None
    wanted: AnswerType | None  # the kind of fact asked for ("how old" wants an age)
    drugs: tuple[str, ...]  # drugs the question names
    mode: str = "hybrid"
    k: int = 5
    filters: Filters = field(default_factory=Filters)
    analytes: tuple[str, ...] = ()  # laboratory analytes the question names
    procedures: tuple[str, ...] = ()  # tests, treatments and devices it names

    @property
    def reader_text(self) -> str:
        """The question as the answer reader reads it, with the patient named plainly
        ("in the patient"): retrieval has found the report by that naming, and the reader,
        which judges one sentence at a time, is drawn by it to sentences that restate it
        rather than to the one that answers. A question led by its topic ("Charcot spine
        at L2-L3: how much kyphosis ...?") is read from its question word on, for the same
        reason."""
        text = _TOPIC_LED.sub("", self.text)
        return _PATIENT_NAMING.sub(lambda m: f"{m.group(1)} the patient", text)


def candidate_abbreviations(question: str) -> list[str]:
    """Tokens with two or more capitals, like "SSc", "CT", "MRI", "COPD"."""
    return list(dict.fromkeys(_ABBREVIATION.findall(question)))


class QueryExpander:
    """Expands abbreviations a question uses with the long form the corpus defines."""

    def __init__(self, store: Store):
        self.store = store
        self._cache: dict[tuple[int, str], str | None] = {}

    def definition(self, abbreviation: str) -> str | None:
        key = (self.store.generation, abbreviation)
        if key not in self._cache:
            found: Counter[str] = Counter()
            # Only passages that define it ("long form (ABBR)") are worth the parser's time.
            defining = [
                t for t in self.store.texts_containing(abbreviation) if f"({abbreviation}" in t
            ]
            for text in defining[:5]:
                pairs = schwartz_hearst.extract_abbreviation_definition_pairs(doc_text=text)
                if abbreviation in pairs:
                    found[pairs[abbreviation].lower()] += 1
            self._cache[key] = found.most_common(1)[0][0] if found else None
        return self._cache[key]

    def expand(self, question: str) -> str:
        """The question with "ABBR (long form)" for every abbreviation the corpus defines."""
        for abbreviation in candidate_abbreviations(question):
            long_form = self.definition(abbreviation)
            if long_form and long_form not in question.lower():
                question = re.sub(
                    rf"\b{re.escape(abbreviation)}\b",
                    f"{abbreviation} ({long_form})",
                    question,
                    count=1,
                )
        return question
