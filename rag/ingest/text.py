"""Plain text and Markdown files."""

from __future__ import annotations

import re
from pathlib import Path

from rag.documents import Section
from rag.errors import RagError
from rag.ingest.front_matter import front_matter

# C0 controls other than tab, newline, carriage return and form feed: never in real text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 by BOM, then Windows-1252, then Latin-1.

    Text saved by Windows tools is usually cp1252 (curly quotes in 0x80-0x9F); the few
    bytes cp1252 leaves undefined mean Latin-1. Bytes that decode to control characters
    are not text at all, and are refused rather than indexed as noise.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise RagError(f"{name}: not valid UTF-16 text despite its byte-order mark") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    controls = len(_CONTROL.findall(text))
    if controls and controls > len(text) // 1000:
        raise RagError(f"{name}: looks like a binary file, not text")
    return text


def load_text(path: Path, data: bytes) -> tuple[list[Section], dict]:
    """One block holding the whole file; headings are found by the cleaner. Citation
    metadata comes from the article's front matter when the text keeps it (text
    extracted from a journal PDF), and a Markdown file's first "# " heading is its title."""
    text = decode(data, path.name)
    meta = front_matter(text)
    if path.suffix.lower() == ".md":
        for line in text.splitlines():
            if line.startswith("# "):
                meta["title"] = line[2:].strip()
                break
    return [Section(heading=None, text=text, page=None)], meta
