"""Plain text and Markdown files."""

from __future__ import annotations

from pathlib import Path

from rag.documents import Section
from rag.errors import RagError


def decode(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), then UTF-16 by BOM, then cp1252; binary is refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data:
        raise RagError(f"{name}: looks like a binary file, not text")
    return data.decode("cp1252", errors="replace")


def load_text(path: Path, data: bytes) -> tuple[list[Section], dict]:
    """One block holding the whole file; headings are found by the cleaner."""
    text = decode(data, path.name)
    meta: dict = {}
    if path.suffix.lower() == ".md":
        for line in text.splitlines():
            if line.startswith("# "):
                meta["title"] = line[2:].strip()
                break
    return [Section(heading=None, text=text, page=None)], meta
