"""Where in the patient's course a question or a sentence places its fact: early (at
presentation, on admission, before treatment) or late (at follow-up, after treatment, on
a repeat test). A case report states sibling facts ("grade IV at presentation", "grade II at
six months"), and the reader, reading one sentence at a time, cannot tell which of them a
question asks for."""

from __future__ import annotations

import re
from typing import Literal

from rag.answer_types import NUMBER_WORDS

Frame = Literal["early", "late"]

_NUMBER = rf"(?:\d+|{NUMBER_WORDS})"
_TREATMENT = r"(?:treatment|therapy|surgery|the operation|operation|resection|discharge)"
EARLY = re.compile(
    rf"\b(?:at (?:first )?presentation|on (?:admission|arrival)|at (?:admission|diagnosis|baseline)"
    rf"|initial(?:ly)?|when (?:he|she|they|the patient) (?:first )?(?:presented|was admitted)"
    rf"|before {_TREATMENT}|pre-?operative(?:ly)?|pre-?treatment|first presented)\b",
    re.I,
)
LATE = re.compile(
    rf"\b(?:follow-?up|later|subsequent(?:ly)?|repeat(?:ed)?|after {_TREATMENT}"
    rf"|post-?operative(?:ly)?|(?:at|on|by) discharge|at (?:the )?last (?:visit|review)"
    rf"|at {_NUMBER} (?:days?|weeks?|months?|years?)"
    r"|(?:had )?(?:fallen|risen|improved|fell|rose) to"
    rf"|{_NUMBER} (?:days?|weeks?|months?|years?) later)\b",
    re.I,
)


def frame(text: str) -> Frame | None:
    """The one part of the course the text places itself in, or None (neither, or both)."""
    early, late = bool(EARLY.search(text)), bool(LATE.search(text))
    if early == late:
        return None
    return "early" if early else "late"
