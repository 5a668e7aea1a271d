"""PDF files via pypdf, one block per page so that page numbers survive."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rag.documents import Section
from rag.errors import RagError


def load_pdf(path: Path, data: bytes) -> tuple[list[Section], dict]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise RagError(f"{path.name}: the PDF is encrypted; save an unencrypted copy")
        pages = [page.extract_text() or "" for page in reader.pages]
    except RagError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise RagError(f"{path.name}: not a readable PDF ({exc})") from exc
    if not any(p.strip() for p in pages):
        raise RagError(f"{path.name}: the PDF has no text layer (scanned images?); run OCR first")
    meta: dict = {}
    info = reader.metadata or {}
    if (title := str(info.get("/Title") or "").strip()) and not title.lower().startswith(
        ("microsoft", "untitled")
    ):
        meta["title"] = title
    if author := str(info.get("/Author") or "").strip():
        meta["authors"] = [a.strip() for a in re.split(r";|,| and ", author) if a.strip()]
    if m := re.search(r"\b10\.\d{4,9}/[^\s\"<>]+", pages[0]):
        meta["doi"] = m.group(0).rstrip(".,;)")
    return [Section(heading=None, text=t, page=i + 1) for i, t in enumerate(pages)], meta
