"""Load a source file into a clean Document, whatever its format."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

from rag.documents import Document, Section
from rag.errors import RagError
from rag.ingest.clean import clean_sections
from rag.ingest.pdf import load_pdf
from rag.ingest.text import load_text

Loader = Callable[[Path, bytes], tuple[list[Section], dict]]
LOADERS: dict[str, Loader] = {".txt": load_text, ".md": load_text, ".pdf": load_pdf}
MAX_FILE_BYTES = 50 * 1024 * 1024


def supported(path: Path) -> bool:
    return path.suffix.lower() in LOADERS


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def doc_id_for(path: Path) -> str:
    """A readable, stable id: the file name without extension, made URL- and shell-safe."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem).strip("_") or "document"


def read_blocks(path: Path) -> tuple[bytes, list[Section], dict]:
    """Raw bytes, uncleaned blocks and found metadata; raises RagError on a bad file."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise RagError(f"{path.name}: unsupported format {path.suffix or '(none)'!r}")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RagError(f"{path.name}: too large ({size // 2**20} MB > 50 MB)")
        data = path.read_bytes()
    except OSError as exc:
        raise RagError(f"{path.name}: cannot read ({exc.strerror})") from exc
    if not data.strip():
        raise RagError(f"{path.name}: the file is empty")
    blocks, meta = loader(path, data)
    return data, blocks, meta


def load_document(
    path: Path,
    metadata: dict | None = None,
    common_lines: set[str] | frozenset[str] = frozenset(),
    blocks: tuple[bytes, list[Section], dict] | None = None,
) -> Document:
    """A cleaned Document; ``metadata`` (from the corpus catalog) wins over found metadata."""
    data, raw, found = blocks or read_blocks(path)
    sections = clean_sections(raw, common_lines)
    if not sections:
        raise RagError(f"{path.name}: no article text left after cleaning")
    meta = {**found, **{k: v for k, v in (metadata or {}).items() if v not in (None, "", [])}}
    year = meta.get("year")
    return Document(
        doc_id=doc_id_for(path),
        source=str(path),
        sha256=sha256(data),
        sections=sections,
        title=meta.get("title", ""),
        authors=list(meta.get("authors", [])),
        journal=meta.get("journal", ""),
        year=int(year) if year else None,
        doi=meta.get("doi", ""),
        pmid=str(meta.get("pmid", "")),
    )
