"""The Index page: safe saving of uploads, sync from the page, and a real browser upload.

The saving and sanitising function is tested directly; the page through Streamlit's
AppTest (real model, FAISS and SQLite behind the buttons); and the whole path -- pick a
file in a real headless Chromium, upload it to `streamlit run app.py`, index it, see the
document count go up -- through Playwright.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from browser_support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    require_chromium,
    streamlit_server,
)
from fixtures_builders import case_text, write_cases
from streamlit.testing.v1 import AppTest

from rag.config import load_settings
from rag.errors import RagError
from rag.indexing import sync
from rag.ingest import MAX_FILE_BYTES
from rag.staging import index_spec
from rag.store import Writer
from rag.ui.index_page import safe_name, save_upload

ROOT = Path(__file__).resolve().parent.parent


# -- names and saving ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "saved"),
    [
        ("case.pdf", "case.pdf"),
        ("../../etc/cron.d/evil.txt", "evil.txt"),
        ("..\\..\\Windows\\evil.md", "evil.md"),
        ("/abs/path/report.HTML", "report.html"),
        ("Fièvre été (2).txt", "Fièvre été (2).txt"),
        ("rm -rf *; $(reboot).nxml", "rm -rf _ _(reboot).nxml"),
        ("tab\tnew\nline\x00.xml", "tab_new_line.xml"),
        ("a" * 300 + ".txt", "a" * 120 + ".txt"),
    ],
)
def test_upload_names_are_reduced_to_a_safe_base_name(given, saved):
    assert safe_name(given) == saved


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (".bashrc.txt", "hidden files"),
        ("../.hidden.pdf", "hidden files"),
        ("setup.exe", "unsupported file type"),
        ("catalog.json", "unsupported file type"),
        ("noextension", "unsupported file type"),
        ("***.txt", "file name is empty"),
        ("", "hidden files|unsupported"),
    ],
)
def test_dangerous_or_unsupported_names_are_refused(given, message):
    with pytest.raises(RagError, match=message):
        safe_name(given)


def test_saving_stays_in_the_corpus_and_never_overwrites_unasked(tmp_path):
    corpus = tmp_path / "corpus"
    first = save_upload(corpus, "../../outside.txt", b"one")
    assert first == corpus / "outside.txt" and first.read_bytes() == b"one"
    assert not (tmp_path / "outside.txt").exists()
    assert save_upload(corpus, "outside.txt", b"one") == first  # same bytes: no copy
    second = save_upload(corpus, "outside.txt", b"two")
    assert second.name == "outside (2).txt" and first.read_bytes() == b"one"
    assert save_upload(corpus, "outside.txt", b"three", replace=True) == first
    assert first.read_bytes() == b"three"
    assert sorted(p.name for p in corpus.iterdir()) == ["outside (2).txt", "outside.txt"]


def test_a_symlink_in_the_corpus_is_not_followed(tmp_path):
    corpus, secret = tmp_path / "corpus", tmp_path / "secret.txt"
    corpus.mkdir()
    secret.write_text("keep me")
    (corpus / "notes.txt").symlink_to(secret)
    saved = save_upload(corpus, "notes.txt", b"uploaded", replace=True)
    assert saved == corpus / "notes (2).txt" and secret.read_text() == "keep me"


def test_too_large_uploads_are_refused(tmp_path):
    with pytest.raises(RagError, match="too large") as refused:
        save_upload(tmp_path, "big.txt", b"x" * (MAX_FILE_BYTES + 1))
    assert "52,428,801 bytes; the limit is 50 MB, 52,428,800 bytes" in str(refused.value)
    assert list(tmp_path.iterdir()) == []
    at_limit = save_upload(tmp_path, "limit.txt", b"x" * MAX_FILE_BYTES)
    assert at_limit.stat().st_size == MAX_FILE_BYTES


def test_the_server_itself_refuses_uploads_over_the_limit():
    """The page's own check runs in the browser, which a client can skip; Streamlit's
    server refuses bodies over ``server.maxUploadSize``, read from .streamlit/config.toml."""
    code = "from streamlit import config; print(config.get_option('server.maxUploadSize'))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    limit = int(out.stdout) * 2**20
    assert MAX_FILE_BYTES <= limit <= MAX_FILE_BYTES + 2**20  # a 50 MB file and its framing


# -- the page through AppTest --------------------------------------------------------------
def _page() -> None:
    from rag.ui.index_page import render

    render()


@pytest.fixture
def page_env(tmp_path, monkeypatch):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    monkeypatch.setenv("RAG_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("RAG_INDEX_DIR", str(index))
    return load_settings()


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_page_without_an_index_says_how_to_start(page_env):
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception
    assert any("no index yet" in i.value for i in at.info)
    assert button(at, "Add to corpus and index").disabled  # nothing uploaded yet


def test_index_button_syncs_and_shows_report_failures_and_status(page_env):
    write_cases(page_env.corpus_dir, range(2))
    (page_env.corpus_dir / "scan.docx").write_bytes(b"PK\x03\x04")
    at = AppTest.from_function(_page, default_timeout=180).run()
    button(at, "Index the corpus folder").click().run()
    assert not at.exception and not at.error
    shown = metrics(at)
    assert shown["Added"] == "2" and shown["Failed"] == "1" and shown["Documents"] == "2"
    failures = at.dataframe[0].value
    assert failures.to_dict("records") == [
        {"file": "scan.docx", "reason": "unsupported format '.docx'"}
    ]
    # A second run finds nothing new.
    write_cases(page_env.corpus_dir, [2])
    button(at, "Index the corpus folder").click().run()
    shown = metrics(at)
    assert shown["Added"] == "1" and shown["Unchanged"] == "2" and shown["Documents"] == "3"


def test_file_names_are_shown_with_control_and_bidi_characters_escaped(page_env):
    write_cases(page_env.corpus_dir, range(1))
    (page_env.corpus_dir / "notes\nforged.txt").write_bytes(b"")
    (page_env.corpus_dir / "case_001\u202etxt.exe").write_text(case_text(1), encoding="utf-8")
    at = AppTest.from_function(_page, default_timeout=180).run()
    button(at, "Index the corpus folder").click().run()
    failures = at.dataframe[0].value.to_dict("records")
    assert sorted(row["file"] for row in failures) == [
        "case_001\\u202etxt.exe",
        "notes\\nforged.txt",
    ]
    rows = [row for frame in at.dataframe for row in frame.value.to_dict("records")]
    cells = [str(value) for row in rows for value in row.values()]
    assert not [c for c in cells if "\u202e" in c or "\n" in c]


def test_index_button_while_another_writer_runs_shows_the_error(page_env):
    write_cases(page_env.corpus_dir, range(1))
    at = AppTest.from_function(_page, default_timeout=60).run()
    with Writer(page_env.index_dir, index_spec(page_env.index)):
        button(at, "Index the corpus folder").click().run()
    assert any("being written by" in e.value for e in at.error)


# -- the real browser ------------------------------------------------------------------------
@pytest.mark.browser
def test_upload_in_a_real_browser_indexes_the_file(tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write_cases(corpus, range(1))
    sync([corpus], load_settings(corpus_dir=corpus, index_dir=index))
    upload = tmp_path / "upload" / "new case.txt"
    upload.parent.mkdir()
    upload.write_text(case_text(7), encoding="utf-8")
    escape = case_text(8).encode()
    ARTIFACTS.mkdir(exist_ok=True)
    with (
        streamlit_server(corpus, index, tmp_path / "streamlit.log") as url,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(f"{url}/index")
            documents = page.get_by_test_id("stMetric").filter(has_text="Documents")
            expect(documents).to_contain_text("1")
            # As buffers, so one can carry a path in its name, as a hostile client might.
            page.locator("input[type=file]").set_input_files(
                [
                    {"name": upload.name, "mimeType": "text/plain", "buffer": upload.read_bytes()},
                    {"name": "../../escape.txt", "mimeType": "text/plain", "buffer": escape},
                ]
            )
            expect(page.get_by_text("new case.txt")).to_be_visible()
            page.get_by_role("button", name="Add to corpus and index").click()
            expect(documents).to_contain_text("3", timeout=240_000)
            expect(page.get_by_text("Saved 2 file(s) to the corpus folder.")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "index_page_after_upload.png"), full_page=True)
        finally:
            browser.close()
    assert (corpus / "new case.txt").read_text(encoding="utf-8") == case_text(7)
    assert (corpus / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()
    assert sorted(p.name for p in corpus.iterdir()) == [
        "case_000.txt",
        "escape.txt",
        "new case.txt",
    ]
