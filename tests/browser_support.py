"""Shared plumbing of the browser tests: the system Chromium and a real `streamlit run`.

Playwright drives Debian's Chromium (/usr/bin/chromium): browser downloads do not work on
these machines. Screenshots land in tests/artifacts/ (gitignored) for a human to look at.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.ui.server import streamlit_app

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
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
