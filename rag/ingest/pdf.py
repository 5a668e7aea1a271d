"""PDF files via pypdf, one block per page so that page numbers survive.

Text comes from pypdf's layout mode, which places every glyph by its position on the
page; a two-column page then shows a gutter of blanks down the middle, and the page is
read left column first, then right column (full-width lines such as a title or a
figure spanning both columns stay where they are). Plain extraction follows the
content stream, which many producers write line by line across both columns. Words
set closer than a space come out run together in either mode; they are split again
by rag.ingest.words.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

from rag.documents import Section
from rag.errors import RagError
from rag.ingest.front_matter import DOI, YEAR_CONTEXT, author_line, front_matter
from rag.ingest.words import repair_run_together

_GUTTER = "   "  # a column gap is at least this wide in layout text
_PLACEHOLDER_META = {"anonymous", "unknown", "untitled", "user", "admin", "author"}


def load_pdf(path: Path, data: bytes) -> tuple[list[Section], dict]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if b"%PDF-" not in data[:1024]:
        raise RagError(f"{path.name}: not a PDF file (no %PDF header); check its type")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _open_without_password(reader):
            raise RagError(f"{path.name}: the PDF is encrypted; save an unencrypted copy")
        pages = repair_run_together([page_text(page) for page in reader.pages])
        info = reader.metadata or {}
    except RagError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise RagError(f"{path.name}: not a readable PDF ({exc})") from exc
    if not pages:
        raise RagError(f"{path.name}: the PDF has no pages")
    if not any(p.strip() for p in pages):
        raise RagError(f"{path.name}: the PDF has no text layer (scanned images?); run OCR first")
    meta = _info_metadata(info)
    meta.update({k: v for k, v in _first_page_metadata(reader.pages[0]).items() if k not in meta})
    if m := DOI.search(pages[0]):
        meta["doi"] = m.group(0).rstrip(".,;)")
    if m := YEAR_CONTEXT.search(pages[0]):
        meta["year"] = int(m.group(1))
    meta.update({k: v for k, v in front_matter(pages[0]).items() if k not in meta})
    return [Section(heading=None, text=t, page=i + 1) for i, t in enumerate(pages)], meta


def _open_without_password(reader) -> bool:
    """Many PDFs are encrypted only against editing, with an empty password to read."""
    from pypdf.errors import DependencyError

    try:
        return bool(reader.decrypt(""))
    except (DependencyError, NotImplementedError):  # AES without the `cryptography` package
        return False


def page_text(page) -> str:
    """A page's text in reading order: layout extraction, split at a column gutter."""
    try:
        text = page.extract_text(extraction_mode="layout")
    except Exception:  # noqa: BLE001 (layout mode is newer and stricter than plain mode)
        text = None
    if not text or not text.strip():
        return page.extract_text() or ""
    lines = (line.strip() for line in columns_in_order(text.splitlines()))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def find_gutter(lines: list[str]) -> int | None:
    """The column of a blank gap down the middle of a two-column page, if it has one.

    A column counts for each line that has text on both sides of a 3-blank gap there;
    the page is two-column when some column in the middle band is such a gap in at
    least 30% of its text lines (and at least 3).
    """
    text_lines = [x for x in lines if x.strip()]
    if len(text_lines) < 3:
        return None
    width = max(len(x) for x in text_lines)
    best, best_score = None, 0
    for col in range(int(width * 0.3), int(width * 0.7) + 1):
        score = sum(
            1
            for x in text_lines
            if x[col - 1 : col + 2] == _GUTTER and x[: col - 1].strip() and x[col + 2 :].strip()
        )
        if score > best_score:
            best, best_score = col, score
    if best is None or best_score < max(3, 0.3 * len(text_lines)):
        return None
    # The middle of the widest gap the winning lines share.
    right = best
    while all(_blank_at(x, right + 1) for x in text_lines if _splits(x, best)):
        right += 1
    return (best + right) // 2


def _blank_at(line: str, col: int) -> bool:
    return col >= len(line) or line[col] == " "


def _splits(line: str, col: int) -> bool:
    return line[col - 1 : col + 2] == _GUTTER and bool(line[col + 2 :].strip())


def columns_in_order(lines: list[str]) -> list[str]:
    """Lines reordered so that each two-column stretch reads left column, then right."""
    gutter = find_gutter(lines)
    if gutter is None:
        return lines
    out: list[str] = []
    left: list[str] = []
    right: list[str] = []

    def flush() -> None:
        # No blank line between the columns: a paragraph often runs on from one to the next.
        while left and not left[-1].strip():
            left.pop()
        out.extend(left)
        out.extend(right[next((i for i, x in enumerate(right) if x.strip()), len(right)) :])
        left.clear()
        right.clear()

    for line in lines:
        if line.strip() and not _blank_at(line, gutter):
            flush()  # a full-width line: ends the stretch of columns above it
            out.append(line)
        else:
            left.append(line[:gutter].rstrip())
            right.append(line[gutter:].rstrip())
    flush()
    return out


def _info_metadata(info) -> dict:
    meta: dict = {}
    title = str(info.get("/Title") or "").strip()
    if (
        title
        and title.lower() not in _PLACEHOLDER_META
        and not title.lower().startswith(("microsoft", "untitled"))
        and not re.search(r"\.(docx?|pdf|tex|indd)$", title, re.I)
    ):
        meta["title"] = title
    author = str(info.get("/Author") or "").strip()
    if author and author.lower() not in _PLACEHOLDER_META:
        meta["authors"] = [a.strip() for a in re.split(r";|,| and ", author) if a.strip()]
    return meta


def _first_page_metadata(page) -> dict:
    """Title (the largest type near the top of page 1) and the author line under it."""
    pieces: list[tuple[float, float, str]] = []

    def visit(text, cm, tm, _font, size) -> None:
        if text.strip():
            scale = math.sqrt(abs(tm[0] * tm[3] - tm[1] * tm[2])) or 1.0
            y = tm[5] * cm[3] + cm[5]
            pieces.append((round(size * scale * (abs(cm[3]) or 1.0), 1), y, text))

    try:
        page.extract_text(visitor_text=visit)
    except Exception:  # noqa: BLE001 (metadata is a bonus; the text was already read)
        return {}
    if not pieces:
        return {}
    sizes = sorted(s for s, _, t in pieces for _ in t.split())
    body = sizes[len(sizes) // 2]
    top = max(s for s, _, _ in pieces)
    if top < body * 1.2:
        return {}
    first = next(i for i, p in enumerate(pieces) if p[0] == top)
    title_parts = []
    i = first
    while i < len(pieces) and pieces[i][0] == top:
        title_parts.append(pieces[i][2])
        i += 1
    title = re.sub(r"\s+", " ", " ".join(title_parts)).strip()
    meta: dict = {}
    if 2 <= len(title.split()) <= 40:
        meta["title"] = title
    if i < len(pieces):
        names = author_line(pieces[i][2])
        if names:
            meta["authors"] = names
    return meta
