"""End to end: `streamlit run app.py` on a free port, driven by a real headless Chromium.

Playwright drives the system Chromium (/usr/bin/chromium; browser downloads do not work
here). Screenshots land in tests/artifacts/ (gitignored) for a human to look at.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser_support import (  # noqa: F401 (chromium_page_fixture: the chromium_page fixture)
    EVAL_TIMEOUT_MS,
    SCREENSHOTS,
    TIMEOUT_MS,
    ask,
    chromium_page_fixture,
    screenshot,
    settle,
    streamlit_server,
)

pytestmark = pytest.mark.browser


def click_for_download(page, button, tries: int = 3):
    """Click as a user would, and once more if nothing arrives: in headless Chromium on a
    busy machine about one click in ten starts no download (seen with eager and deferred
    data alike). Any failure after ``tries`` clicks is a real one."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(1, tries + 1):
        try:
            with page.expect_download(timeout=15_000) as download:
                button.click()
            return download.value
        except PlaywrightTimeout:
            if attempt == tries:
                raise


def test_question_gets_cited_answer_in_browser(chromium_page, seed_settings, seed_index, tmp_path):
    page, dialogs = chromium_page
    with streamlit_server(
        seed_settings.corpus_dir, seed_settings.index_dir, tmp_path / "streamlit.log"
    ) as url:
        page.goto(url)
        page.get_by_role("button", name="Which suture was used to repair the dura?").wait_for()
        nav = page.locator("[data-testid='stSidebarNav']").inner_text()
        assert "Evaluation" in nav and "Index" in nav
        screenshot(page, "browser_landing.png")

        ask(page, "Which suture was used to repair the dura?")
        cards = page.locator("[class*='st-key-card-src-']")
        # The page streams in: wait for the first source card, then read them all.
        cards.first.wait_for()
        settle(page)
        assert "[1]" in page.locator(".cq-answer").inner_text()
        texts = [cards.nth(i).inner_text() for i in range(cards.count())]
        assert texts[0].lstrip().startswith("[1]")
        # Every quoted sentence is marked in its card.
        quoted = page.locator(".cq-answer a.cq-ref").evaluate_all("es => es.map(e => e.title)")
        marked = page.locator(".cq-passage mark").all_inner_texts()
        assert quoted and all(any(" ".join(q.split()) in " ".join(m.split()) for m in marked)
                              for q in quoted)  # fmt: skip
        screenshot(page, "browser_answer.png")

        # The source file behind a card downloads as it is on disk.
        card = cards.first
        card.get_by_text("source file").first.click()
        button = card.get_by_role("button", name="Download source file")
        button.wait_for()
        download = click_for_download(page, button)
        saved = Path(download.path())
        assert download.suggested_filename.endswith(".txt")
        original = seed_settings.corpus_dir / download.suggested_filename
        assert saved.read_bytes() == original.read_bytes()

        ask(page, "Which anticoagulant is preferred for stroke prevention in atrial fibrillation?")
        page.get_by_text("Closest passages", exact=True).wait_for()
        page.locator("[class*='st-key-card-near-']").first.wait_for()
        assert page.locator(".cq-abstain").count() == 1
        assert page.locator("[class*='st-key-card-near-']").count() >= 1
        screenshot(page, "browser_abstain.png")
    assert not dialogs


HOSTILE = (
    "Intravenous immunoglobulin in a hostile test case\n\n"
    "The patient was treated with intravenous immunoglobulin <script>alert(1)</script> at a "
    "dose of 2 g/kg over twelve hours. Her <img src=x onerror=alert(2)> fever settled and the "
    "<b>bold</b> rash faded. See [click](http://evil.example) and *starred* `tick`.\n"
)


def test_hostile_document_is_inert_in_browser(chromium_page, seed_settings, tmp_path):
    from rag.indexing import sync

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "hostile.txt").write_text(HOSTILE, encoding="utf-8")
    settings = seed_settings.with_overrides(corpus_dir=corpus, index_dir=tmp_path / "index")
    assert sync([corpus], settings).documents == 1
    page, dialogs = chromium_page
    with streamlit_server(
        settings.corpus_dir, settings.index_dir, tmp_path / "streamlit.log"
    ) as url:
        page.goto(url)
        ask(page, "What dose of immunoglobulin was given?")
        card = page.locator("[class*='st-key-card-']").filter(has_text="alert(1)").first
        card.wait_for()
        text = card.inner_text()
        for literal in ("<script>alert(1)</script>", "<b>bold</b>", "[click](http://evil.example)"):
            assert literal in text
        injected = page.evaluate(
            """() => ({
                scripts: [...document.scripts].filter(s => s.textContent.includes('alert')).length,
                links: document.querySelectorAll('a[href*="evil.example"]').length,
                images: document.querySelectorAll('img[src="x"]').length,
                markup: [...document.querySelectorAll('[class*="st-key-card-"] :is(b, em, code)')]
                    .map(e => e.outerHTML),
            })"""
        )
        assert injected == {"scripts": 0, "links": 0, "images": 0, "markup": []}
        screenshot(page, "browser_hostile.png")
    assert not dialogs


def test_evaluation_page_runs_the_seed_gold_set_in_browser(
    chromium_page, seed_settings, seed_index, tmp_path
):
    from playwright.sync_api import expect

    page, dialogs = chromium_page
    log = tmp_path / "streamlit.log"
    with streamlit_server(seed_settings.corpus_dir, seed_settings.index_dir, log) as url:
        page.goto(f"{url}/evaluation")
        button = page.get_by_role("button", name="Run evaluation")
        button.wait_for()
        started = time.monotonic()
        button.click()
        # Five minutes, not the usual 90 s: twice a run on a 2-core machine busy with other
        # work passed 58/58 and drew its result after 90 s (a wait, not a timing check).
        result = page.get_by_text("seed_gold · 58 questions")
        expect(result).to_be_visible(timeout=EVAL_TIMEOUT_MS)
        page_s = time.monotonic() - started
        expect(page.get_by_text("Recall@k")).to_be_visible()
        expect(page.get_by_text("Failed questions")).to_be_visible()
        ndcg = page.get_by_test_id("stMetric").filter(has_text="ndcg@10")
        expect(ndcg).to_contain_text("0.")
        page.get_by_test_id("stVegaLiteChart").locator("canvas, svg").first.wait_for()
        page.get_by_test_id("stDataFrame").last.locator("canvas").first.wait_for()
        page.wait_for_timeout(1000)  # the chart and tables draw after they appear
        screenshot(page, "evaluation.png", SCREENSHOTS)
    assert dialogs == []
    # Timings are reported, not asserted (a benchmark's job): on a fresh clone under CI the
    # page took 40.6 s against 6.5 s for `rag eval`, on the development tree 16.9 s against 16.3.
    print(f"Evaluation page {page_s:.1f} s, rag eval {rag_eval_seconds(seed_settings):.1f} s")


def rag_eval_seconds(settings) -> float:
    """Wall time of `rag eval eval/seed_gold.jsonl` on the same index, as a user runs it
    (process start and model load included, as the page's first run includes the load)."""
    env = os.environ | {
        "HF_HUB_OFFLINE": "1",
        "RAG_INDEX_DIR": str(settings.index_dir),
        "RAG_CORPUS_DIR": str(settings.corpus_dir),
    }
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "rag.cli", "eval", "eval/seed_gold.jsonl", "-q"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started
