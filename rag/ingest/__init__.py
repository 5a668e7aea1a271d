"""Load a source file into a clean Document, whatever its format."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

from rag.documents import Document, Metadata, Section
from rag.errors import RagError
from rag.ingest.clean import clean_sections
from rag.ingest.html import load_html
from rag.ingest.jats import load_jats
from rag.ingest.pdf import load_pdf
from rag.ingest.text import load_text

Loader = Callable[[Path, bytes], tuple[list[Section], dict]]
LOADERS: dict[str, Loader] = {
    ".txt": load_text,
    ".md": load_text,
    ".pdf": load_pdf,
    ".xml": load_jats,
    ".nxml": load_jats,
    ".html": load_html,
    ".htm": load_html,
}
# Bumped when loading or cleaning changes the text a file gives: it names the evaluation
# caches, which are then built again; an index of yours keeps its text until `rag index
# --rebuild` (2: a sentence ending in a glued citation is prose, stop 37).
READING_RULES = 2
# Formats whose markup marks headings and prose: their lines are not second-guessed.
STRUCTURED = frozenset({".xml", ".nxml"})
MAX_FILE_BYTES = 50 * 1024 * 1024


def supported(path: Path) -> bool:
    return path.suffix.lower() in LOADERS


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def doc_id_for(path: Path) -> str:
    """A readable, stable id: the file name without extension, made URL- and shell-safe."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem).strip("_") or "document"


def check_size(path: Path, size: int) -> None:
    """Refuse files over the limit before anything reads them into memory."""
    if size > MAX_FILE_BYTES:
        raise RagError(f"{path.name}: {too_large(size)}")


def too_large(size: int) -> str:
    """The reason for refusing ``size`` bytes, in bytes: "51 MB; the limit is 50 MB" would
    hide that the file is one byte over."""
    return (
        f"too large ({size:,} bytes; the limit is {MAX_FILE_BYTES // 2**20} MB, "
        f"{MAX_FILE_BYTES:,} bytes)"
    )


def is_empty(data: bytes) -> bool:
    """No bytes, or only whitespace: nothing to index (and not a duplicate of another)."""
    return not data.strip()


def printable(text: str) -> str:
    """``text`` with every character that is not printable escaped as Python writes it.

    File names come from anyone who can drop a file into the corpus: a newline in one
    would start a forged line of output, and a right-to-left override would show
    ``report<U+202E>txt.exe`` as ``reportexe.txt``. Ordinary spaces stay.
    """
    return "".join(c if c.isprintable() else _escaped(c) for c in str(text))


def _escaped(c: str) -> str:
    code = ord(c)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(c)
    if named:
        return named
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def read_blocks(path: Path) -> tuple[bytes, list[Section], dict]:
    """Raw bytes, uncleaned blocks and found metadata; raises RagError on a bad file."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise RagError(f"{path.name}: unsupported format {path.suffix or '(none)'!r}")
    try:
        check_size(path, path.stat().st_size)
        data = path.read_bytes()
    except OSError as exc:
        raise RagError(f"{path.name}: cannot read ({exc.strerror})") from exc
    if is_empty(data):
        raise RagError(f"{path.name}: the file is empty")
    try:
        blocks, meta = loader(path, data)
    except RagError:
        raise
    except Exception as exc:  # noqa: BLE001 (one malformed file must not stop a sync)
        kind = path.suffix.lower().lstrip(".").upper()
        reason = f"{type(exc).__name__}: {exc}"
        raise RagError(f"{path.name}: not a readable {kind} file ({reason})") from exc
    return data, blocks, meta


def load_document(
    path: Path,
    metadata: dict | None = None,
    common_lines: set[str] | frozenset[str] = frozenset(),
    blocks: tuple[bytes, list[Section], dict] | None = None,
    warnings: list[str] | None = None,
) -> Document:
    """A cleaned Document; ``metadata`` (from the corpus catalog) wins over found metadata.

    ``warnings`` is told when cleaning kept a text's prose sentences because its rules
    would have left almost nothing (see ``clean_sections``).
    """
    data, raw, found = blocks or read_blocks(path)
    structured = path.suffix.lower() in STRUCTURED
    sections = clean_sections(raw, common_lines, structured=structured, warnings=warnings)
    if not sections:
        raise RagError(f"{path.name}: no article text left after cleaning")
    meta = Metadata.from_dict(merged_metadata(found, metadata))
    return Document(doc_id_for(path), str(path), sha256(data), sections, **meta.fields())


def merged_metadata(found: dict, metadata: dict | None) -> dict:
    """Found metadata overridden by the catalog's non-empty fields."""
    return {**found, **{k: v for k, v in (metadata or {}).items() if v not in (None, "", [])}}
