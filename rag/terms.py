"""The words of a question that carry evidence: what lexical search and answer scoring
match, with the stop words of clinical questions left out."""

from __future__ import annotations

import re

# Words that carry no evidence in a clinical question; dropped from the lexical query.
STOPWORDS = frozenset(
    """a about after all also an and any are as at be been before being between both but by can
    case cases could did do does doing for from had has have having he her here hers him his how
    i if in into is it its may might more most much must no nor not of on or other our out over
    own patient patients report reported same she should so some such than that the their them
    then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your""".split()
)


def query_terms(question: str) -> list[str]:
    """The question's content words, lower-cased, in order, without repeats."""
    terms: list[str] = []
    for word in re.findall(r"[^\W_]+(?:[-'][^\W_]+)*", question.lower()):
        for part in word.split("-") if "-" in word else [word]:
            if part not in STOPWORDS and part not in terms and (len(part) > 1 or part.isdigit()):
                terms.append(part)
    return terms


def fts_query(terms: list[str] | str) -> str:
    """An FTS5 OR query of the terms (or of a question's terms), each quoted so FTS5 syntax
    is inert."""
    if isinstance(terms, str):
        terms = query_terms(terms)
    return " OR ".join(f'"{t}"' for t in terms)
