"""Nothing is fetched from the network at run time: the app in a real Chromium asks only
its own server (the tab icon included, which a Material icon would fetch from a font CDN).
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, require_chromium, streamlit_server

pytestmark = pytest.mark.browser


def test_the_app_requests_nothing_but_its_own_server(seed_settings, seed_index, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    requested: list[str] = []
    log = tmp_path / "streamlit.log"
    with (
        streamlit_server(seed_settings.corpus_dir, seed_settings.index_dir, log) as url,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(90_000)
            page.on("request", lambda r: requested.append(r.url))
            page.goto(url)
            expect(page.get_by_text("Ask the case reports")).to_be_visible()
            page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for()
            page.wait_for_timeout(1000)  # a late icon or font request would still be seen
            href = page.locator("link[rel='shortcut icon']").get_attribute("href") or ""
        finally:
            browser.close()
    own = urlparse(url).netloc
    elsewhere = [u for u in requested if urlparse(u).scheme in ("http", "https", "ws", "wss")]
    elsewhere = [u for u in elsewhere if urlparse(u).netloc != own]
    assert elsewhere == []
    assert href.startswith("data:image/svg+xml"), href
