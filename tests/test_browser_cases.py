"""The clinician's view in a real Chromium: the Cases page with a filter, similar cases,
"Ask this report", a clicked [n] marker that reaches its source card, readable titles.

``CASEQA_SCREENSHOTS=rag/ui/screenshots`` writes the README's screenshots of each page.
"""

from __future__ import annotations

import re

import pytest
from browser_support import (  # noqa: F401 (chromium_page_fixture: the chromium_page fixture)
    SCREENSHOTS,
    ask,
    chromium_page_fixture,
    screenshot,
    settle,
    streamlit_server,
)
from playwright.sync_api import expect

from rag.indexing import sync
from rag.pipeline import Pipeline
from rag.titles import titles
from rag.ui.cases_page import match_words

pytestmark = pytest.mark.browser

SUMMARY = (
    "A 60-year-old woman with systemic sclerosis has neck pain and weak hands; CT shows "
    "calcinosis eroding the cervical spine."
)
DURA = "Which suture was used to repair the dura?"


@pytest.fixture(scope="module")
def cards_settings(seed_settings, tmp_path_factory):
    """The seed corpus indexed with case cards on."""
    settings = seed_settings.with_overrides(
        index_dir=tmp_path_factory.mktemp("cards_index"), case_cards=True
    )
    assert sync([settings.corpus_dir], settings).documents >= 3
    return settings


def filter_by_age(page, ages: list[int]) -> None:
    """Drag the age range down to the youngest patient, with the keyboard as a user can."""
    upper = page.get_by_test_id("stSlider").filter(has_text="Age").get_by_role("slider").nth(1)
    upper.focus()
    for _ in range(ages[-1] - ages[0]):
        upper.press("ArrowLeft")


def test_cases_page_filter_similar_cases_and_ask_this_report(
    chromium_page, cards_settings, tmp_path
):
    page, dialogs = chromium_page
    pipeline = Pipeline(cards_settings)
    cards = pipeline.cards()
    ages = sorted(int(c.fields["age"].value) for c in cards if c.fields.get("age"))
    _, similar = pipeline.similar(SUMMARY, 5)
    names = titles(pipeline.store)
    log = tmp_path / "streamlit.log"
    with streamlit_server(cards_settings.corpus_dir, cards_settings.index_dir, log) as url:
        page.goto(f"{url}/cases")
        table = page.locator("table.cq-fields").first
        table.wait_for()
        assert table.locator("tr").count() == 1 + len(cards)
        filter_by_age(page, ages)
        caption = f"{ages.count(ages[0])} of {len(cards)} cases"
        page.get_by_text(caption).wait_for()
        # Each key press reruns the page, and the caption is drawn before the table:
        # wait for the filtered table itself, not only for a quiet moment between reruns.
        expect(table.locator("tr")).to_have_count(1 + ages.count(ages[0]))
        settle(page)
        rows = table.locator("tr").all_inner_texts()[1:]
        assert len(rows) == ages.count(ages[0]) and str(ages[0]) in rows[0]
        assert not any(str(a) in r for a in ages[1:] for r in rows if a != ages[0])
        hover = table.locator(".cq-quote").first.get_attribute("title")
        assert hover and str(ages[0]) in hover, "the age's sentence is shown on hover"
        screenshot(page, "cases.png", SCREENSHOTS)

        page.get_by_label("Patient summary").fill(SUMMARY)
        page.get_by_role("button", name="Find similar cases").click()
        first = page.locator("[class*='st-key-match-1']")
        first.wait_for()
        settle(page)
        text = first.inner_text()
        assert names[similar[0].card.doc_id] in text and match_words(similar[0]) in text
        for quote in similar[0].matched.values():
            assert " ".join(quote.split()) in " ".join(text.split())
        assert page.locator("[class*='st-key-match-']").count() == len(similar)
        screenshot(page, "similar_cases.png", SCREENSHOTS)

        # "Ask this report" opens the Ask page filtered to that report alone.
        link = table.locator("tr").nth(1).locator("a.cq-ask")
        doc_id = (link.get_attribute("href") or "").rpartition("doc=")[2]
        assert doc_id in names
        link.click()
        page.get_by_label("Question").wait_for()
        settle(page)
        chosen = page.get_by_test_id("stMultiSelect").inner_text()
        assert names[doc_id] in chosen
    assert not dialogs


def test_marker_reaches_its_source_card_and_titles_are_not_file_names(
    chromium_page, cards_settings, tmp_path
):
    page, dialogs = chromium_page
    files = {p.name for p in cards_settings.corpus_dir.iterdir()}
    log = tmp_path / "streamlit.log"
    with streamlit_server(cards_settings.corpus_dir, cards_settings.index_dir, log) as url:
        page.goto(url)
        ask(page, DURA)
        marker = page.locator(".cq-answer a.cq-ref").first
        marker.wait_for()
        settle(page)
        screenshot(page, "ask.png", SCREENSHOTS)
        quoted = marker.get_attribute("title")
        card = page.locator("#cq-source-1")
        mark = page.locator("[class*='st-key-card-src-']").first.locator("mark").first
        assert quoted and " ".join(quoted.split()) in " ".join(mark.inner_text().split())
        titles_shown = page.locator(".cq-title").filter(visible=True).all_inner_texts()
        for title in titles_shown:
            name = re.sub(r"^\s*(\[\d+\]|#\d+)\s*", "", title).strip()
            assert name and name not in files and not name.endswith(".txt"), title
        # A short window: the card starts below the fold, and the marker brings it up.
        page.set_viewport_size({"width": 1280, "height": 420})
        page.locator("[data-testid='stMain']").evaluate("e => e.scrollTo(0, 0)")
        top = card.evaluate("e => e.getBoundingClientRect().top")
        assert top > 420, "the card should start out of view for this check to mean anything"
        marker.click()
        page.wait_for_function("location.hash === '#cq-source-1'")
        page.wait_for_timeout(300)
        top = card.evaluate("e => e.getBoundingClientRect().top")
        assert 0 <= top < 200, f"the card is at {top}px after the click"

        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{url}/index")
        page.get_by_text("Index status").wait_for()
        page.get_by_test_id("stDataFrame").wait_for()
        settle(page)
        screenshot(page, "index.png", SCREENSHOTS)
    assert not dialogs
