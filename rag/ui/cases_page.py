"""Cases page: every indexed report read as a patient (its case card), filtered the way a
clinician looks for a case, and the reports most like a pasted patient summary.

A card's fields are sentences quoted from the report: the table shows them shortened, the
whole sentence on hover. Every string from a document goes through ``inert``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import streamlit as st

from rag.documents import CardField, CaseCard, DocInfo
from rag.errors import RagError
from rag.pipeline import Pipeline
from rag.similar import FIELD_WEIGHT, Match
from rag.titles import citation_line, titles
from rag.ui.common import apply_style, inert, inert_attr, pipeline_or_error

COLUMNS = ("complaint", "diagnosis", "site", "treatment", "outcome")
LABELS = {
    "age": "Age",
    "sex": "Sex",
    "complaint": "Complaint",
    "diagnosis": "Diagnosis",
    "site": "Site",
    "history": "History",
    "investigations": "Investigations",
    "treatment": "Treatment",
    "complications": "Complications",
    "outcome": "Outcome",
}
QUOTE_CHARS = 90
MAX_ROWS = 200
SIMILAR_K = 5
CLOSE_TEXT = 0.5  # passage cosine above which a report's text reads as close to the summary
ASK_DOC = "doc"  # the Ask page's query parameter (rag.ui.ask_page.ASK_DOC)
_LEVEL_PUNCT = re.compile(r"\s*[-–—/]\s*")


@dataclass
class CaseRow:
    """One patient: the card, its report's metadata and the title a clinician reads."""

    card: CaseCard
    doc: DocInfo | None
    title: str

    @property
    def year(self) -> int | None:
        return self.doc.year if self.doc else None


@dataclass(frozen=True)
class CaseFilters:
    """What the Cases page filters on; ``None`` or empty means "any"."""

    age: tuple[int, int] | None = None
    sex: str | None = None
    site: str = ""
    treatment: str = ""
    years: tuple[int, int] | None = None


def case_rows(pipeline: Pipeline) -> list[CaseRow]:
    """Every card of the index with its document, in document order."""
    docs = {d.doc_id: d for d in pipeline.store.documents()}
    names = titles(pipeline.store)
    return [
        CaseRow(card, docs.get(card.doc_id), names.get(card.doc_id, card.doc_id))
        for card in pipeline.cards()
    ]


def _value(card: CaseCard, name: str) -> CardField | None:
    return card.fields.get(name)


def _level_text(text: str) -> str:
    """Lower case with level punctuation unified, so "C4/5" finds "C4-5"."""
    return _LEVEL_PUNCT.sub("-", text.lower())


def matches(row: CaseRow, f: CaseFilters) -> bool:
    """Whether a case passes the filters; a filtered field that the card leaves blank fails."""
    age, sex = _value(row.card, "age"), _value(row.card, "sex")
    if f.age and not (age and f.age[0] <= int(age.value) <= f.age[1]):
        return False
    if f.sex and not (sex and sex.value == f.sex):
        return False
    if f.years and not (row.year is not None and f.years[0] <= row.year <= f.years[1]):
        return False
    site = _value(row.card, "site")
    wanted = _level_text(f.site.strip())
    if wanted and not (site and wanted in _level_text(f"{site.value or ''} {site.quote}")):
        return False
    treatment = _value(row.card, "treatment")
    words = f.treatment.lower().split()
    return not words or bool(treatment and all(w in treatment.quote.lower() for w in words))


def filter_cases(rows: list[CaseRow], f: CaseFilters) -> list[CaseRow]:
    return [r for r in rows if matches(r, f)]


# -- rendering ----------------------------------------------------------------------------
def shortened(text: str, limit: int = QUOTE_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:") + "…"


def field_cell(field: CardField | None, show_value: bool = False) -> str:
    """A card field for the table: the value or the shortened quote; the quote on hover."""
    if field is None:
        return '<span class="cq-blank">—</span>'
    value = str(field.value) if show_value and field.value is not None else ""
    shown = value or shortened(field.quote)
    return f'<span class="cq-quote" title="{inert_attr(field.quote)}">{inert(shown)}</span>'


def ask_link(doc_id: str, label: str = "Ask this report") -> str:
    """A link that opens the Ask page filtered to one report (``?doc=``)."""
    href = f"./?{ASK_DOC}={quote(doc_id, safe='')}"
    return f'<a class="cq-ask" href="{inert_attr(href)}" target="_self">{inert(label)}</a>'


def case_heading(row: CaseRow) -> str:
    who = f" · patient {row.card.patient}" if row.card.patient > 1 else ""
    several = " · several patients" if row.card.several else ""
    meta = " · ".join(citation_line(row.doc))
    return (
        f'<div class="cq-title">{inert(row.title + who + several)}</div>'
        + (f'<div class="cq-meta">{inert(meta)}</div>' if meta else "")
        + f'<div class="cq-meta">{ask_link(row.card.doc_id)}</div>'
    )


def cases_table(rows: list[CaseRow]) -> str:
    """One table row per case: the report, age, sex and the card's main fields."""
    head = "".join(
        f"<th>{inert(h)}</th>" for h in ("Case report", "Age", "Sex", *map(LABELS.get, COLUMNS))
    )
    body = []
    for row in rows:
        card = row.card
        cells = [
            case_heading(row),
            field_cell(_value(card, "age"), show_value=True),
            field_cell(_value(card, "sex"), show_value=True),
            *(field_cell(_value(card, name), show_value=name == "site") for name in COLUMNS),
        ]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<table class="cq-fields"><tr>{head}</tr>{"".join(body)}</table>'


def _range(label: str, values: list[int], key: str) -> tuple[int, int] | None:
    """A range slider over ``values``; ``None`` while it spans them all."""
    values = sorted(set(values))
    if len(values) < 2:
        return None
    low, high = st.slider(label, values[0], values[-1], (values[0], values[-1]), key=key)
    return None if (low, high) == (values[0], values[-1]) else (low, high)


def filters_form(rows: list[CaseRow]) -> CaseFilters:
    """The filter widgets above the table (sliders only where the cases differ)."""
    ages = [int(f.value) for r in rows if (f := _value(r.card, "age")) and f.value is not None]
    years = [r.year for r in rows if r.year is not None]
    c1, c2, c3, c4 = st.columns([3, 2, 3, 3])
    with c1:
        age = _range("Age (years)", ages, "cases-age")
        year = _range("Publication year", years, "cases-years")
    sex = c2.selectbox("Sex", ["Any", "Female", "Male"], key="cases-sex")
    site = c3.text_input("Site or spinal level", key="cases-site", placeholder="e.g. C4/5")
    treatment = c4.text_input(
        "Treatment words", key="cases-treatment", placeholder="e.g. laminectomy"
    )
    return CaseFilters(age, None if sex == "Any" else sex.lower(), site, treatment, year)


def show_cases(pipeline: Pipeline) -> None:
    rows = case_rows(pipeline)
    if not rows:
        st.info(
            "No case cards yet: they are read at index time when `case_cards` is on "
            "(`RAG_CASE_CARDS=true rag index`).",
            icon=":material/info:",
        )
        return
    shown = filter_cases(rows, filters_form(rows))
    st.caption(f"{len(shown)} of {len(rows)} cases · hover over a field for the report's sentence")
    if shown:
        st.markdown(cases_table(shown[:MAX_ROWS]), unsafe_allow_html=True)
    else:
        st.warning("No case matches these filters.", icon=":material/filter_alt_off:")
    if len(shown) > MAX_ROWS:
        st.caption(f"The first {MAX_ROWS} are shown: narrow the filters to see the others.")


# -- similar cases ------------------------------------------------------------------------
def match_words(match: Match) -> str:
    """How well a report matches, in words: text closeness plus the fields that agree."""
    close = match.similarity >= CLOSE_TEXT
    if close and len(match.matched) >= 2:
        closeness = "Close match"
    elif close or match.matched:
        closeness = "Partial match"
    else:
        closeness = "Weak match"
    agreed = [LABELS[f].lower() for f in match.matched]
    if not agreed:
        return f"{closeness}: no field agrees"
    listed = agreed[0] if len(agreed) == 1 else ", ".join(agreed[:-1]) + " and " + agreed[-1]
    return f"{closeness}: {listed} agree{'s' if len(agreed) == 1 else ''}"


def matched_table(matched: dict[str, str]) -> str:
    """The agreeing fields beside the report's sentences; fields quoting one sentence share
    a row ("Age, Sex")."""
    by_quote: dict[str, list[str]] = {}
    for name, sentence in matched.items():
        by_quote.setdefault(sentence, []).append(LABELS[name])
    rows = "".join(
        f"<tr><th>{inert(', '.join(names))}</th><td>{inert(sentence)}</td></tr>"
        for sentence, names in by_quote.items()
    )
    return f'<table class="cq-fields cq-matched">{rows}</table>'


def show_match(rank: int, match: Match, names: dict[str, str], docs: dict[str, DocInfo]) -> None:
    card = match.card
    with st.container(border=True, key=f"match-{rank}"):
        title = names.get(card.doc_id, card.doc_id)
        meta = " · ".join(citation_line(docs.get(card.doc_id)))
        st.markdown(
            f'<div class="cq-title"><span class="cq-badge">{rank}</span> {inert(title)}</div>'
            f'<div class="cq-meta">{inert(match_words(match))}'
            + (f" · {inert(meta)}" if meta else "")
            + f" · {ask_link(card.doc_id)}</div>",
            unsafe_allow_html=True,
        )
        if match.matched:
            st.markdown(matched_table(match.matched), unsafe_allow_html=True)
        with st.expander("Details"):
            raw = (
                f"score {match.score:.3f} = passage similarity {match.similarity:.3f}"
                f" + {len(match.matched)} agreeing fields × {FIELD_WEIGHT}"
            )
            st.markdown(f'<div class="cq-meta">{inert(raw)}</div>', unsafe_allow_html=True)


def show_similar(pipeline: Pipeline) -> None:
    st.subheader("Similar cases")
    with st.form("similar", border=False):
        st.text_area(
            "Patient summary",
            key="similar-summary",
            height=110,
            placeholder="e.g. A 57-year-old woman with systemic sclerosis presents with "
            "neck pain and weakness; CT shows calcinosis at C4/5.",
        )
        submitted = st.form_submit_button("Find similar cases", type="primary")
    if submitted:
        st.session_state["similar-asked"] = (st.session_state.get("similar-summary") or "").strip()
    summary = st.session_state.get("similar-asked")
    if not summary:
        if submitted:
            st.warning("Paste a few sentences about the patient first.", icon=":material/edit:")
        return
    try:
        with st.spinner("Reading the summary and ranking the case reports…"):
            _, found = pipeline.similar(summary, SIMILAR_K)
    except RagError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if not found:
        st.info("No case report has a case card to compare with.", icon=":material/info:")
        return
    names = titles(pipeline.store)
    docs = {d.doc_id: d for d in pipeline.store.documents()}
    for rank, match in enumerate(found, start=1):
        show_match(rank, match, names, docs)


def render() -> None:
    """The page body; ``app.py`` registers it with ``st.navigation``."""
    st.set_page_config(layout="wide")
    apply_style()
    st.title("Cases")
    st.caption(
        "Each indexed case report read as a patient: every field is a sentence quoted from "
        "the report, blank when the report does not state it."
    )
    pipeline = pipeline_or_error()
    if pipeline is None:
        return
    show_cases(pipeline)
    show_similar(pipeline)
