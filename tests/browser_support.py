"""Shared plumbing of the browser tests: the system Chromium and a real `streamlit run`.

Playwright drives Debian's Chromium (/usr/bin/chromium): browser downloads do not work on
these machines. Screenshots land in tests/artifacts/ (gitignored) for a human to look at;
``CASEQA_SCREENSHOTS=rag/ui/screenshots`` writes the README's page screenshots instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.eval.server import streamlit_app

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOTS = ROOT / os.environ.get("CASEQA_SCREENSHOTS", "tests/artifacts")
TIMEOUT_MS = 90_000  # generous: the model loads on the first page view (~5 s on 2 cores)
EVAL_TIMEOUT_MS = 300_000  # a whole gold set run in the page: a wait, not a timing check
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Fail in CI (which installs it), skip elsewhere, when the system Chromium is missing."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@contextlib.contextmanager
def streamlit_server(corpus: Path, index: Path, log: Path) -> Iterator[str]:
    """The app as a user runs it, on its own port with the given folders; always stopped."""
    env = {"RAG_CORPUS_DIR": str(corpus), "RAG_INDEX_DIR": str(index)}
    with log.open("wb") as out, streamlit_app(env, out) as url:
        yield url


@pytest.fixture(name="chromium_page")
def chromium_page_fixture():
    """A fresh page in the system Chromium; dialogs (alert()) are recorded, not shown.

    Test modules import it (``from browser_support import chromium_page_fixture``)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.set_default_timeout(TIMEOUT_MS)
            yield page, dialogs
        finally:
            browser.close()


def ask(page, question: str) -> None:
    """Type into the question box and press Enter, as a user does."""
    box = page.get_by_label("Question")
    box.fill(question)
    box.press("Enter")


def settle(page) -> None:
    """Wait until the script run has finished: a widget clicked while the page is still
    streaming in can be replaced under the click (a lost download under a busy CPU)."""
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for()


def screenshot(page, name: str, folder: Path | None = None) -> None:
    """The whole page: Streamlit scrolls inside its own container, so grow the viewport."""
    folder = folder or ARTIFACTS
    folder.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"width": 1280, "height": 900}
    height = page.evaluate(
        "Math.max(...[...document.querySelectorAll('section, div')].map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": 1280, "height": min(max(height, 900), 6000)})
    page.screenshot(path=str(folder / name))
    page.set_viewport_size(size)
