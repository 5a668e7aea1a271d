"""Builders for test inputs made by code: tiny case reports, real PDFs, JATS, HTML.

Every document is written by the test that needs it, so the suite depends on no
downloaded file, and each builder can put in exactly the trouble a test looks for
(two columns drawn line by line across, running headers, ligatures, encryption).
"""

from __future__ import annotations

import io
import os
import sqlite3
from pathlib import Path

import numpy as np

AGES = ["nineteen", "twenty-six", "thirty-four", "forty-one", "fifty-three", "sixty-eight", "77"]
PEOPLE = ["man", "woman", "farmer", "teacher", "student", "retired nurse", "welder", "baker"]
SYMPTOMS = [
    "fever and night sweats",
    "painless jaundice",
    "sudden hearing loss",
    "a swollen right knee",
    "episodic palpitations",
    "blurred vision in one eye",
    "a persistent dry cough",
    "crushing chest pain",
    "a pruritic annular rash",
    "progressive leg weakness",
    "recurrent nosebleeds",
]
FINDINGS = [
    "a splenic abscess on ultrasound",
    "a dilated common bile duct",
    "an enhancing lesion in the internal auditory canal",
    "purulent synovial fluid",
    "pre-excitation on the electrocardiogram",
    "a retinal detachment",
    "hilar lymphadenopathy",
    "an occluded left anterior descending artery",
    "hyphae on a skin scraping",
    "a compressive thoracic meningioma",
    "telangiectasias of the lips",
    "a thickened gallbladder wall",
    "bilateral pleural effusions",
]
TREATMENTS = [
    "percutaneous drainage",
    "endoscopic stenting",
    "microsurgical resection",
    "arthroscopic washout",
    "catheter ablation",
    "vitrectomy",
    "a course of corticosteroids",
    "emergency angioplasty",
    "topical terbinafine",
    "laminectomy",
    "embolisation",
    "open cholecystectomy",
    "thoracentesis",
    "intravenous antibiotics",
    "watchful waiting",
    "oral iron",
    "plasma exchange",
]


def case_text(i: int) -> str:
    """A one-paragraph, one-chunk case report; no line repeats another case's, digits aside.

    Lines repeated across documents count as site chrome, and digits are ignored when
    lines are compared, so cases differ in their words, not only in numbers.
    """
    age, who = AGES[i % len(AGES)], PEOPLE[(i // 7) % len(PEOPLE)]
    symptom, finding = SYMPTOMS[i % len(SYMPTOMS)], FINDINGS[i % len(FINDINGS)]
    treatment = TREATMENTS[i % len(TREATMENTS)]
    return (
        f"A {age} year old {who} presented with {symptom}. Investigations revealed {finding}. "
        f"The patient was managed with {treatment} and recovered fully. "
        f"At review the {who} remained well after {treatment}.\n"
    )


def write_cases(folder: Path, numbers: range | list[int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in numbers:
        path = folder / f"case_{i:03d}.txt"
        path.write_text(case_text(i), encoding="utf-8")
        paths.append(path)
    return paths


# -- PDFs ---------------------------------------------------------------------------------
def _vera() -> str:
    """Bitstream Vera (shipped inside reportlab): a TrueType font with real fi/fl ligatures."""
    import reportlab
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    path = os.path.join(os.path.dirname(reportlab.__file__), "fonts", "Vera.ttf")
    if "Vera" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("Vera", path))
    return "Vera"


def pdf_bytes(
    pages: list[list[tuple[float, float, str, float]]],
    title: str | None = None,
    author: str | None = None,
) -> bytes:
    """A PDF whose pages hold the given (x, y, text, font size) runs, drawn in list order."""
    from reportlab.pdfgen import canvas

    font = _vera()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842))
    if title is not None:
        c.setTitle(title)
    if author is not None:
        c.setAuthor(author)
    for runs in pages:
        for x, y, text, size in runs:
            c.setFont(font, size)
            c.drawString(x, y, text)
        c.showPage()
    c.save()
    return buf.getvalue()


def wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)


def two_column_page(left: str, right: str, top: str | None = None, y0: float = 760):
    """Runs of one page: an optional full-width line, then two columns drawn row by row.

    Row-by-row drawing (left line 1, right line 1, left line 2, ...) is what many PDF
    producers emit; extraction that follows the content stream interleaves the columns.
    """
    runs: list[tuple[float, float, str, float]] = []
    y = y0
    if top:
        runs.append((56, y, top, 10))
        y -= 30
    lines_l, lines_r = wrap(left, 44), wrap(right, 44)
    for n in range(max(len(lines_l), len(lines_r))):
        if n < len(lines_l):
            runs.append((56, y, lines_l[n], 9.5))
        if n < len(lines_r):
            runs.append((310, y, lines_r[n], 9.5))
        y -= 13
    return runs


def encrypted_pdf(plain: bytes, user_password: str = "secret", algorithm: str = "RC4-128") -> bytes:
    """RC4-128 by default (pypdf needs no extra package for it), or "AES-256", as current
    PDF writers encrypt (pypdf needs `cryptography`); an empty user password opens freely."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(plain)).pages:
        writer.add_page(page)
    writer.encrypt(user_password, owner_password="owner", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def image_only_pdf() -> bytes:
    """A 'scan': a page of drawn shapes and a raster image, no text layer."""
    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    img = Image.fromarray((np.random.default_rng(0).random((64, 64)) * 255).astype("uint8"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842))
    c.drawImage(ImageReader(img), 72, 400, width=400, height=400)
    c.rect(72, 100, 200, 50, fill=1)
    c.showPage()
    c.save()
    return buf.getvalue()


# -- JATS and HTML ------------------------------------------------------------------------
def jats_article(
    title: str,
    doi: str,
    body_sections: list[tuple[str, list[str]]],
    abstract: str = "",
    figures: list[tuple[str, str]] = (),
    references: list[str] = (),
    authors: list[tuple[str, str]] = (("Ana", "Ruiz"), ("Tom", "Lee")),
    journal: str = "Journal of Invented Case Reports",
    year: int = 2021,
    pmid: str = "",
) -> str:
    """A small PMC-style JATS article (with the DOCTYPE PMC files carry)."""
    from xml.sax.saxutils import escape as e

    contribs = "".join(
        f'<contrib contrib-type="author"><name><surname>{e(s)}</surname>'
        f"<given-names>{e(g)}</given-names></name></contrib>"
        for g, s in authors
    )
    secs = "".join(
        f"<sec><title>{e(h)}</title>{''.join(f'<p>{p}</p>' for p in ps)}</sec>"
        for h, ps in body_sections
    )
    figs = "".join(
        f'<fig id="f{n}"><label>{e(label)}</label><caption><p>{e(text)}</p></caption>'
        f'<graphic xlink:href="f{n}.jpg"/></fig>'
        for n, (label, text) in enumerate(figures, start=1)
    )
    refs = "".join(
        f'<ref id="r{n}"><mixed-citation>{e(r)}</mixed-citation></ref>'
        for n, r in enumerate(references, start=1)
    )
    pmid_el = f'<article-id pub-id-type="pmid">{pmid}</article-id>' if pmid else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange'
        ' DTD v1.2 20190208//EN" "JATS-archivearticle1.dtd">\n'
        '<article xmlns:xlink="http://www.w3.org/1999/xlink" article-type="case-report">'
        f"<front><journal-meta><journal-title-group><journal-title>{e(journal)}"
        "</journal-title></journal-title-group></journal-meta>"
        f'<article-meta>{pmid_el}<article-id pub-id-type="doi">{e(doi)}</article-id>'
        f"<title-group><article-title>{e(title)}</article-title></title-group>"
        f"<contrib-group>{contribs}</contrib-group>"
        f'<pub-date pub-type="epub"><day>3</day><month>5</month><year>{year}</year></pub-date>'
        f"<abstract><p>{e(abstract)}</p></abstract></article-meta></front>"
        f"<body>{secs}{figs}</body>"
        f"<back><ref-list><title>References</title>{refs}</ref-list></back></article>"
    )


def count_rows(index_dir: Path, sql: str) -> int:
    with sqlite3.connect(index_dir / "catalog.sqlite") as db:
        return db.execute(sql).fetchone()[0]


def index_problems(index_dir: Path) -> list[str]:
    """Every way the index on disk is inconsistent (empty when it is sound).

    The FAISS file the catalog names exists, holds exactly the chunk ids of SQLite, and
    FTS rows, sentences and chunks all belong to existing parents.
    """
    from rag.vector_index import VectorIndex

    problems: list[str] = []
    db = sqlite3.connect(index_dir / "catalog.sqlite")
    try:
        if (ok := db.execute("PRAGMA integrity_check").fetchone()[0]) != "ok":
            problems.append(f"sqlite integrity: {ok}")
        meta = dict(db.execute("SELECT key, value FROM manifest"))
        generation = int(meta.get("generation", 0))
        chunks = {r[0] for r in db.execute("SELECT chunk_id FROM chunks")}
        fts = {r[0] for r in db.execute("SELECT rowid FROM chunks_fts")}
        sentences = {r[0] for r in db.execute("SELECT DISTINCT chunk_id FROM sentences")}
        orphans = db.execute(
            "SELECT count(*) FROM chunks WHERE doc_key NOT IN (SELECT doc_key FROM documents)"
        ).fetchone()[0]
    finally:
        db.close()
    if fts != chunks:
        problems.append(f"FTS rows differ from chunks: {len(fts ^ chunks)} ids")
    if not sentences <= chunks:
        problems.append(f"sentences of {len(sentences - chunks)} missing chunks")
    if orphans:
        problems.append(f"{orphans} chunks without a document")
    path = index_dir / f"vectors.{generation}.faiss"
    if generation == 0:
        if chunks:
            problems.append("chunks but no FAISS generation")
        return problems
    if not path.exists():
        return [*problems, f"manifest names {path.name}, which is missing"]
    index = VectorIndex.read(path)  # any index type; HNSW tombstones are not live ids
    ids = set(index.ids().tolist())
    if len(index) != len(chunks):
        problems.append(f"FAISS holds {len(index)} vectors for {len(chunks)} chunks")
    if ids != chunks:
        problems.append(f"FAISS ids differ from chunk ids: {sorted(ids ^ chunks)[:10]}")
    return problems


def glued_pdf(
    paragraphs: list[str],
    seed: int,
    tight: float = 0.6,
    kerned: bool = False,
    loose: frozenset[int] = frozenset(),
) -> bytes:
    """A PDF whose words are set with no space characters between them.

    Each word is placed at a computed x position (or, with ``kerned``, moved by a TJ
    kerning offset as TeX does); on a "tight" line (share ``tight``) the gap is well
    under a space, so text extraction reads the line's words run together. Paragraphs
    numbered in ``loose`` are set with ordinary gaps.
    """
    import random

    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    rng = random.Random(seed)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842))
    font, size, y = "Helvetica", 10, 780.0
    c.setFont(font, size)
    name = c._doc.getInternalFontName(font)
    for k, para in enumerate(paragraphs):
        for line in wrap(para, 88):
            glued = rng.random() < tight and k not in loose
            gap = rng.uniform(0.2, 0.9) if glued else 2.8
            if kerned:
                parts = " ".join(f"({w}) {-gap * 1000 / size:.0f}" for w in line.split())
                c._code.append(f"BT {name} {size} Tf 50 {y:.1f} Td [{parts}] TJ ET")
            else:
                x = 50.0
                for w in line.split():
                    c.drawString(x, y, w)
                    x += stringWidth(w, font, size) + gap
            y -= 13
            if y < 60:
                c.showPage()
                c.setFont(font, size)
                y = 780.0
        y -= 8
    c.showPage()
    c.save()
    return buf.getvalue()
