"""The Cases page, source titles and the Index page's metadata, with real components.

The index is the seed corpus read with case cards on (the reader model, FAISS, SQLite);
the pages run through Streamlit's AppTest.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from rag.cards import card_title
from rag.documents import CardField, CaseCard, DocInfo
from rag.indexing import sync
from rag.pipeline import Pipeline
from rag.titles import choose_title, citation_line, heading_title, opening_words
from rag.ui.cases_page import CaseFilters, CaseRow, filter_cases, match_words

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = (
    "A 60-year-old woman with systemic sclerosis has neck pain and weak hands; CT shows "
    "calcinosis eroding the cervical spine."
)


def card(doc_id: str, age=None, sex=None, site=None, treatment=None, several=False) -> CaseCard:
    fields = {
        "age": CardField(age, f"A {age}-year-old patient.") if age else None,
        "sex": CardField(sex, f"The patient was {sex}.") if sex else None,
        "site": CardField(site[0], site[1]) if site else None,
        "treatment": CardField(None, treatment) if treatment else None,
    }
    return CaseCard(doc_id, "", several=several, fields=fields)


def doc(doc_id: str, year=None, title="", journal="") -> DocInfo:
    return DocInfo(doc_id, f"/corpus/{doc_id}.txt", title, [], journal, year)


ROWS = [
    CaseRow(
        card("a", 57, "female", ("C4-5", "Calcinosis at C4-5."), "C4 laminectomy"),
        doc("a", 2019),
        "A",
    ),
    CaseRow(
        card("b", 34, "male", (None, "A mass in the hip."), "Excision of the mass"), doc("b"), "B"
    ),
    CaseRow(card("c"), doc("c", 2021), "C"),
]


def ids(rows: list[CaseRow]) -> list[str]:
    return [r.card.doc_id for r in rows]


# -- pure helpers ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (CaseFilters(), ["a", "b", "c"]),
        (CaseFilters(age=(50, 60)), ["a"]),
        (CaseFilters(sex="male"), ["b"]),
        (CaseFilters(site="c4/5"), ["a"]),  # a level written another way
        (CaseFilters(site="hip"), ["b"]),
        (CaseFilters(treatment="LAMINECTOMY c4"), ["a"]),
        (CaseFilters(treatment="laminectomy hip"), []),
        (CaseFilters(years=(2018, 2020)), ["a"]),  # undated reports drop out of a range
    ],
)
def test_case_filters(filters, expected):
    assert ids(filter_cases(ROWS, filters)) == expected


def test_card_title_reads_as_a_patient():
    assert card_title(card("a", 57, "female", ("C4-5", "At C4-5."))) == "57-year-old female, C4-5"
    assert card_title(card("a", 57)) == "57-year-old patient"
    assert card_title(card("a", sex="male")) == "Male patient"
    assert card_title(card("a", site=("C4-5", "At C4-5."))) == ""
    assert card_title(card("a", 57, several=True)) == "Several patients"


def test_title_order_metadata_heading_card_opening_file():
    cards = [card("x", 57, "female")]
    opening = "Tumoral calcinosis is rare. It was excised."
    assert choose_title(doc("x", title="Calcinosis"), "A heading", cards, opening) == "Calcinosis"
    assert choose_title(doc("x"), "Cervical calcinosis in CREST", cards, opening) == (
        "Cervical calcinosis in CREST"
    )
    assert choose_title(doc("x"), "Abstract", cards, opening) == "57-year-old female"
    assert choose_title(doc("x"), "Case report", [], opening) == "Tumoral calcinosis is rare."
    assert choose_title(doc("x"), None, [], "") == "x.txt"
    assert heading_title("Case 2 presentation") == "" and heading_title("Figure 3 CT") == ""
    long = opening_words("word " * 60)
    assert long.endswith("…") and len(long) <= 91


def test_citation_line_leaves_out_what_is_unknown():
    assert citation_line(doc("x"), None, "") == []
    assert citation_line(doc("x", 2020, journal="Spine"), "Case", "p. 3") == [
        "Spine",
        "2020",
        "Case",
        "p. 3",
    ]


# -- the pages ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cards_settings(seed_settings, seed_index, tmp_path_factory):
    """The seed corpus indexed with case cards on."""
    settings = seed_settings.with_overrides(
        index_dir=tmp_path_factory.mktemp("cards_index"), case_cards=True
    )
    assert sync([settings.corpus_dir], settings).documents >= 3
    return settings


@pytest.fixture(scope="module")
def cards_pipeline(cards_settings):
    return Pipeline(cards_settings)


@pytest.fixture(autouse=True)
def fresh_cache():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def cases_script():
    from rag.ui import cases_page

    cases_page.render()


def open_cases(monkeypatch, settings) -> AppTest:
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("RAG_CORPUS_DIR", str(settings.corpus_dir))
    at = AppTest.from_function(cases_script, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def table_rows(at: AppTest) -> list[str]:
    table = next(m.value for m in at.markdown if 'class="cq-fields"' in m.value)
    return re.findall(r"<tr>(.*?)</tr>", table)[1:]


def test_cases_page_lists_every_card_and_filters_by_age(
    monkeypatch, cards_settings, cards_pipeline
):
    cards = cards_pipeline.cards()
    ages = sorted(int(c.fields["age"].value) for c in cards if c.fields.get("age"))
    assert len(ages) >= 2, "the seed reports state at least two ages"
    at = open_cases(monkeypatch, cards_settings)
    rows = table_rows(at)
    assert len(rows) == len(cards)
    assert all("Ask this report" in r and "None" not in html.unescape(r) for r in rows)
    at.slider(key="cases-age").set_range(ages[0], ages[0]).run()
    rows = table_rows(at)
    assert len(rows) == ages.count(ages[0]) and f">{ages[0]}<" in rows[0]
    assert f"{len(rows)} of {len(cards)} cases" in "".join(c.value for c in at.caption)


def test_similar_cases_show_matched_fields_with_quotes(monkeypatch, cards_settings, cards_pipeline):
    _, expected = cards_pipeline.similar(SUMMARY, 5)
    at = open_cases(monkeypatch, cards_settings)
    at.text_area(key="similar-summary").input(SUMMARY)
    next(b for b in at.button if b.label == "Find similar cases").click().run()
    assert not at.exception, at.exception
    shown = [b for b in at.main if (getattr(b, "key", "") or "").startswith("match-")]
    assert len(shown) == len(expected)
    first = "".join(m.value for m in shown[0].get("markdown"))
    assert match_words(expected[0]) in html.unescape(first)
    for quote in expected[0].matched.values():
        assert " ".join(quote.split()) in " ".join(html.unescape(first).split())


def test_ask_page_opens_filtered_to_one_report(monkeypatch, cards_settings, cards_pipeline):
    from rag.titles import titles
    from rag.ui.ask_page import ASK_DOC

    doc_id = cards_pipeline.cards()[0].doc_id
    monkeypatch.setenv("RAG_INDEX_DIR", str(cards_settings.index_dir))
    monkeypatch.setenv("RAG_CORPUS_DIR", str(cards_settings.corpus_dir))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params[ASK_DOC] = doc_id
    at.run()
    assert not at.exception, at.exception
    assert at.multiselect(key="docs").value == [doc_id]
    assert titles(cards_pipeline.store)[doc_id] in at.multiselect(key="docs").options


def test_index_page_never_shows_none(monkeypatch, cards_settings):
    from rag.ui.index_page import BLANK, index_stats

    _, docs = index_stats(cards_settings.index_dir)
    assert docs and all(row[k] not in (None, "", "None") for row in docs for k in row)
    assert any(row["year"] == BLANK and row["journal"] == BLANK for row in docs)
    assert not any(row["title"].endswith(".txt") for row in docs)


def test_match_words_say_how_and_where_a_report_matches():
    from rag.similar import Match

    some = card("a", 57, "female")
    assert match_words(Match(some, 0.8, 0.7, {"age": "q", "sex": "q"})) == (
        "Close match: age and sex agree"
    )
    assert match_words(Match(some, 0.7, 0.7, {})) == "Partial match: no field agrees"
    assert match_words(Match(some, 0.4, 0.3, {"site": "q"})) == "Partial match: site agrees"
    assert match_words(Match(some, 0.3, 0.3, {})) == "Weak match: no field agrees"


def test_titles_follow_cards_read_again_without_a_new_generation(seed_settings, tmp_path):
    from rag.staging import index_spec
    from rag.store import Store, open_writer
    from rag.titles import titles

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "gout.txt").write_text(
        "A 61-year-old man with gout was treated with colchicine and recovered.\n", "utf-8"
    )
    settings = seed_settings.with_overrides(
        corpus_dir=corpus, index_dir=tmp_path / "index", case_cards=True
    )
    sync([corpus], settings)
    store = Store(settings.index_dir)
    assert titles(store) == {"gout": "61-year-old male"}
    generation = store.generation
    with open_writer(settings.index_dir, index_spec(settings.index)) as writer:
        writer.set_cards("gout", [card("gout", 62, "male")], "another reader")
        writer.commit()
    assert store.generation == generation, "cards alone start no new generation"
    assert titles(store) == {"gout": "62-year-old male"}
