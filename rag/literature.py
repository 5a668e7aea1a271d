"""Whether a sentence of a case report speaks of other patients (the literature, earlier
cases, tables of them) rather than of the report's own: case cards never quote one, and
an answer about the patient prefers its own account to them."""

from __future__ import annotations

import re

OTHER_PATIENTS = re.compile(
    r"\bet al\b|\breported\b|\bliterature\b|\bstud(?:y|ies)\b|\bcases\b"
    r"|\bseries\b|\breview\b|[a-z)][.,]\d+(?:[,–-]\d+)*(?:\s|$)"
    r"|\b(?-i:[a-z]{4,})\d+(?:[,–-]\d+)*[.,;]?(?:\s|$)",  # glued references: "joints1-6."
    re.I,
)
# A question that asks about them ("How many cases were reported?", "What do earlier
# reports describe?"), which the literature's sentences answer.
ASKS_ABOUT_OTHERS = re.compile(
    r"\bliterature\b|\breport(?:ed|s)\b|\bstud(?:y|ies)\b|\bcases\b|\bseries\b|\breview\b"
    r"|\b(?:other|previous|prior|earlier|past) (?:\w+ )?(?:patients?|cases?|authors?)\b",
    re.I,
)
