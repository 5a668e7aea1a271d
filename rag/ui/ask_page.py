"""Ask page: a question in; a cited answer out, with a source card per cited passage.

Every string that comes from a document (passage text, title, authors, section, file
name) is rendered through :func:`rag.ui.common.inert`, never as Markdown or HTML.
"""

from __future__ import annotations

import functools
import logging
import mimetypes
from datetime import datetime
from pathlib import Path

import streamlit as st

from rag.answering import confidence_words
from rag.config import load_settings
from rag.documents import Answer, DocInfo, Hit
from rag.errors import RagError
from rag.ingest import printable
from rag.pipeline import Pipeline
from rag.retrieval import Filters
from rag.titles import citation_line, titles
from rag.ui.common import (
    apply_style,
    corpus_file,
    excerpt_bounds,
    highlighted,
    inert,
    inert_attr,
    pipeline_or_error,
    read_corpus_file,
)

# First-time users see these (they are answered by the seed corpus in corpus/).
EXAMPLES = (
    "Which suture was used to repair the dura?",
    "Can calcinosis in systemic sclerosis cause lumbar spinal stenosis?",
    "How is tumoral calcinosis related to CREST syndrome?",
)
MAX_K = 20
UNEXPECTED = (
    "Something went wrong while answering, so there is no answer to show. Ask again; if it "
    "happens again, re-index with `rag index` and tell the maintainer (the details are in "
    "the app's log)."
)
ASK_DOC = "doc"  # query parameter: open the Ask page filtered to this one document
log = logging.getLogger("rag")


def render() -> None:
    """The page body; ``app.py`` registers it with ``st.navigation``."""
    apply_style()
    st.title("Ask the case reports")
    st.caption(
        "Answers quote the indexed case reports word for word, and every sentence cites "
        "the passage it comes from. Check the source before acting on it."
    )
    pipeline = pipeline_or_error()
    if pipeline is None:
        return
    k, filters = sidebar(pipeline)
    names = titles(pipeline.store)
    question_form()
    asked = st.session_state.get("asked")
    if not asked:
        examples()
        return
    try:
        with st.spinner("Searching the case reports…"):
            answer = pipeline.ask(asked, k=k, filters=filters)
    except RagError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    except Exception:  # noqa: BLE001 (a clinician gets a message, the log gets the traceback)
        log.exception("answering %r failed", asked)
        st.error(UNEXPECTED, icon=":material/error:")
        return
    show_answer(answer, names, filtered=filters.active)


# -- question ---------------------------------------------------------------------------
def question_form() -> None:
    """A form, so that Enter in the box submits, and typing does not rerun the page."""
    with st.form("ask", border=False):
        left, right = st.columns([6, 1], vertical_alignment="bottom")
        left.text_input(
            "Question",
            key="question",
            placeholder=f"e.g. {EXAMPLES[0]}",
            label_visibility="collapsed",
        )
        submitted = right.form_submit_button("Ask", type="primary", width="stretch")
    if submitted:
        question = (st.session_state.get("question") or "").strip()
        st.session_state["asked"] = question or None
        if not question:
            st.warning("Type a question first.", icon=":material/edit:")


def _use_example(question: str) -> None:
    st.session_state["question"] = question
    st.session_state["asked"] = question


def examples() -> None:
    st.markdown("##### Try an example")
    for i, question in enumerate(EXAMPLES):
        st.button(
            question,
            key=f"example-{i}",
            on_click=_use_example,
            args=(question,),
            icon=":material/arrow_forward:",
        )


# -- sidebar ----------------------------------------------------------------------------
def sidebar(pipeline: Pipeline) -> tuple[int, Filters]:
    """Index status, number of passages and filters; returns ``(k, filters)``."""
    stats = pipeline.store.stats()
    docs = pipeline.store.documents()
    with st.sidebar:
        st.subheader("Index")
        left, right = st.columns(2)
        left.metric("Documents", stats["documents"])
        right.metric("Passages", stats["chunks"])
        about_index(stats)
        st.subheader("Search")
        k = st.slider(
            "Passages to retrieve",
            min_value=1,
            max_value=MAX_K,
            value=min(max(pipeline.settings.k, 1), MAX_K),
            key="k",
            help="How many passages are retrieved; the answer quotes the best of them.",
        )
        filters = _filters(docs, titles(pipeline.store))
    if not docs:
        st.info("The index holds no documents yet: add some on the Index page.")
    return k, filters


def about_index(stats: dict) -> None:
    """What a maintainer asks about (model, backend, generation), out of a clinician's way."""
    with st.expander("About this index"):
        rows = (
            ("Model", stats["model"]),
            ("Embedding backend", stats["backend"]),
            ("Generation", stats["generation"]),
            ("Built", _when(stats["built_at"])),
        )
        st.markdown(
            '<div class="cq-meta">'
            + "<br>".join(f"{label}: {inert(str(value))}" for label, value in rows)
            + "</div>",
            unsafe_allow_html=True,
        )


def _filters(docs: list[DocInfo], names: dict[str, str]) -> Filters:
    by_id = {d.doc_id: d for d in docs}
    wanted = st.query_params.get(ASK_DOC)  # "Ask this report" on the Cases page
    if wanted is not None:
        del st.query_params[ASK_DOC]
        if wanted in by_id:
            st.session_state["docs"] = [wanted]
    chosen = st.multiselect(
        "Documents",
        options=list(by_id),
        format_func=lambda doc_id: printable(names.get(doc_id) or by_id[doc_id].display_title),
        placeholder="All documents",
        key="docs",
    )
    years = sorted({d.year for d in docs if d.year is not None})
    year_min = year_max = None
    if len(years) > 1:
        low, high = st.select_slider(
            "Publication year", options=years, value=(years[0], years[-1]), key="years"
        )
        if (low, high) != (years[0], years[-1]):  # the full range keeps undated documents
            year_min, year_max = low, high
    elif years and st.checkbox(f"Only documents published in {years[0]}", key="years"):
        year_min = year_max = years[0]
    return Filters(
        doc_ids=frozenset(d for d in chosen if d in by_id) or None,
        year_min=year_min,
        year_max=year_max,
    )


def _when(built_at: str) -> str:
    try:
        return datetime.strptime(built_at, "%Y-%m-%dT%H:%M:%S%z").strftime("%d %b %Y, %H:%M %Z")
    except ValueError:
        return built_at or "unknown"


# -- answer -----------------------------------------------------------------------------
def show_answer(answer: Answer, names: dict[str, str], filtered: bool = False) -> None:
    if answer.abstained:
        st.markdown(
            f'<div class="cq-answer cq-abstain">{inert(answer.text)}</div>',
            unsafe_allow_html=True,
        )
        if not answer.hits:
            st.caption("No passage matched" + (" the filters." if filtered else "."))
            return
        st.subheader("Closest passages")
        # The reason is our own words plus drug names matched as [a-z]+: nothing to escape.
        st.caption(f"{answer.reason} Judge these passages yourself.".strip())
        for hit in answer.hits:
            source_card(hit, None, [], f"near-{hit.chunk.chunk_id}", names)
        return
    cited = cited_passages(answer)
    st.markdown(f'<div class="cq-answer">{answer_html(answer)}</div>', unsafe_allow_html=True)
    st.caption(
        f"Quoted from {len(cited)} passage{'s' if len(cited) != 1 else ''} · "
        + (
            f"the answer reader judges that this {confidence_words(answer)} the question"
            if answer.judged_by == "reader"
            else "the sentences closest to the question (not judged by the answer reader)"
        )
    )
    st.subheader("Sources")
    for n, hit, spans in cited:
        source_card(hit, n, spans, f"src-{hit.chunk.chunk_id}", names)
    cited_ids = {hit.chunk.chunk_id for _, hit, _ in cited}
    others = [h for h in answer.hits if h.chunk.chunk_id not in cited_ids]
    if others:
        with st.expander(f"Other retrieved passages ({len(others)})"):
            for hit in others:
                source_card(hit, None, [], f"more-{hit.chunk.chunk_id}", names, details=False)


def cited_passages(answer: Answer) -> list[tuple[int, Hit, list[tuple[int, int]]]]:
    """``(n, passage, supporting sentence spans)`` per ``[n]``, in marker order."""
    groups: dict[int, tuple[Hit, list[tuple[int, int]]]] = {}
    for c in answer.citations:
        groups.setdefault(c.n, (c.hit, []))[1].append((c.start, c.end))
    return [(n, hit, spans) for n, (hit, spans) in sorted(groups.items())]


def anchor(n: int) -> str:
    """The HTML id of source card ``[n]``, which its markers in the answer link to."""
    return f"cq-source-{n}"


def answer_html(answer: Answer) -> str:
    """The answer with ``[n]`` markers that link to their source card and show the quoted
    sentence on hover, rebuilt from the citations.

    Rebuilding (rather than styling every ``[n]`` found in ``answer.text``) keeps a
    bracketed reference number quoted from a paper from passing for a citation; if
    the answerer's text format ever changes, the text is shown as it is.
    """
    if " ".join(f"{c.sentence} [{c.n}]" for c in answer.citations) != answer.text:
        return inert(answer.text)
    return " ".join(
        f'{inert(c.sentence)}<a class="cq-ref" href="#{anchor(c.n)}" target="_self" '
        f'title="{inert_attr(c.sentence)}">{inert(f"[{c.n}]")}</a>'
        for c in answer.citations
    )


# -- source cards -----------------------------------------------------------------------
def source_card(
    hit: Hit,
    n: int | None,
    spans: list[tuple[int, int]],
    key: str,
    names: dict[str, str],
    details: bool = True,
) -> None:
    """Title, citation line, the passage with its quote marked; scores and file below."""
    text = hit.chunk.text
    with st.container(border=True, key=f"card-{key}"):
        badge = (
            f'<span class="cq-badge">{inert(f"[{n}]")}</span>'
            if n is not None
            else f'<span class="cq-badge cq-plain">{inert(f"#{hit.rank}")}</span>'
        )
        target = f' id="{anchor(n)}"' if n is not None else ""
        meta = citation_line(hit.doc, hit.chunk.section, _pages(hit) or "")
        st.markdown(
            f'<div class="cq-title cq-target"{target}>{badge} {inert(_title(hit, names))}</div>'
            f'<div class="cq-meta">{inert(" · ".join(meta))}</div>',
            unsafe_allow_html=True,
        )
        start, end = excerpt_bounds(text, spans)
        body = highlighted(
            text[start:end], [(max(s, start) - start, min(e, end) - start) for s, e in spans]
        )
        body = ("… " if start else "") + body + (" …" if end < len(text) else "")
        st.markdown(f'<div class="cq-passage">{body}</div>', unsafe_allow_html=True)
        if not details:
            return
        whole = (start, end) != (0, len(text))
        with st.expander("Whole passage and source file" if whole else "Source file"):
            if whole:
                st.markdown(
                    f'<div class="cq-passage">{highlighted(text, spans)}</div>',
                    unsafe_allow_html=True,
                )
            source_file(hit, key)
        with st.expander("Details"):
            st.markdown(f'<div class="cq-meta">{scores_html(hit)}</div>', unsafe_allow_html=True)


def _title(hit: Hit, names: dict[str, str]) -> str:
    title = names.get(hit.chunk.doc_id) or (hit.doc.display_title if hit.doc else "")
    return printable(title or hit.chunk.doc_id)


def scores_html(hit: Hit) -> str:
    """The retrieval scores behind a card, for whoever wants to check the ranking."""
    rows = [f"Rank {hit.rank} · fusion score {hit.score:.4f}"]
    for name, rank, score in (
        ("Dense (embedding)", hit.dense_rank, hit.dense_score),
        ("Lexical (BM25)", hit.lexical_rank, hit.lexical_score),
    ):
        if rank is not None:
            rows.append(
                f"{name}: rank {rank}" + (f", score {score:.4f}" if score is not None else "")
            )
        else:
            rows.append(f"{name}: not among its candidates")
    return "<br>".join(inert(r) for r in rows)


def _pages(hit: Hit) -> str | None:
    first, last = hit.chunk.page_start, hit.chunk.page_end
    if first is None:
        return None
    return f"p. {first}" if last in (None, first) else f"pp. {first}–{last}"


def source_file(hit: Hit, key: str) -> None:
    """A download of the original file (only from the corpus folder); for a PDF, the page."""
    source = Path(hit.doc.source if hit.doc else "")
    note = inert(printable(source.name))
    pages = _pages(hit)
    if source.suffix.lower() == ".pdf" and pages:
        note += f" · the passage is on {inert(pages)} of the PDF"
    st.markdown(f'<div class="cq-meta">{note}</div>', unsafe_allow_html=True)
    if not source.is_file():
        st.caption("The source file is no longer where it was indexed; re-index to update.")
        return
    corpus = load_settings().corpus_dir
    real = corpus_file(source, corpus)
    if real is None:
        st.caption("The source file is not inside the corpus folder, so it is not served.")
        return
    st.download_button(
        "Download source file",
        data=functools.partial(read_corpus_file, real, corpus),
        file_name=printable(source.name),
        mime=mimetypes.guess_type(source.name)[0] or "application/octet-stream",
        key=f"download-{key}",
        on_click="ignore",
        icon=":material/download:",
    )
