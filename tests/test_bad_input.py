"""Bad input: each bad file is reported by name with its reason, and the rest is indexed.

One folder holds good files beside every kind of trouble; one real sync (model, FAISS,
SQLite) indexes it, and each case checks its own message and that the good files made it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fixtures_builders import (
    case_text,
    encrypted_pdf,
    image_only_pdf,
    index_problems,
    jats_article,
    pdf_bytes,
    wrap,
)

from rag.config import load_settings
from rag.indexing import sync
from rag.ingest import MAX_FILE_BYTES
from rag.store import Store

ARTICLE_DOI = "10.5555/jicr.2019.0301"
ARTICLE_TITLE = "Lithium toxicity after a thiazide was started in an elderly woman"
ARTICLE_PARAGRAPHS = [
    "An 81-year-old woman on lithium for bipolar disorder became confused and ataxic two "
    "weeks after bendroflumethiazide was started for hypertension.",
    "Her serum lithium concentration was 2.9 mmol/L and she had a coarse tremor and "
    "myoclonic jerks of both arms.",
    "Lithium and the thiazide were stopped, and haemodialysis was performed twice before "
    "the concentration fell below one millimole per litre.",
    "She recovered fully over ten days, and lithium was later restarted at a lower dose "
    "with weekly monitoring of its serum concentration.",
]
NEAR_TEXT = "\n\n".join(
    [
        "Cat scratch disease with hepatosplenic granulomas in a teenager",
        "A sixteen year old girl had three weeks of fever and right upper quadrant pain after "
        "adopting a kitten from a shelter.",
        "Ultrasound showed multiple small hypoechoic lesions in the liver and the spleen, and "
        "Bartonella henselae serology was strongly positive.",
        "She was treated with azithromycin for five days followed by rifampicin, and the fever "
        "settled within a week of starting treatment.",
        "Repeat imaging at three months showed that the lesions had resolved completely.",
    ]
)
GOUT_TITLE = "Tophaceous gout of the index finger mimicking a giant cell tumour"
GOUT_JATS = (
    "A 68-year-old man had a firm painless swelling of the right index finger for a year, "
    "and excision revealed chalky white deposits of monosodium urate."
)
GOUT_PAGE = f"""<html><head><meta name="citation_title" content="{GOUT_TITLE}">
<meta name="citation_author" content="Mensah, Kofi">
<meta name="citation_publication_date" content="2018/02/01"></head><body><article>
<h1>{GOUT_TITLE}</h1><p>An elderly man presented with a slowly enlarging mass on his index
finger that had been present for twelve months and was thought to be a tumour of the tendon
sheath.</p><p>At surgery the lesion contained white chalky material, and polarised light
microscopy showed needle-shaped negatively birefringent crystals.</p></article></body></html>"""
OUTSIDE = "OUTSIDESECRET"  # a word only the file outside the corpus holds
GOOD = [
    "good_one.txt",
    "good_two.md",
    "owner_locked.pdf",
    "aes_open.pdf",
    "windows.txt",
    "latin.txt",
]


def build_folder(folder: Path) -> None:
    folder.mkdir()
    (folder / "good_one.txt").write_text(case_text(1), encoding="utf-8")
    (folder / "good_two.md").write_text("# A good case\n\n" + case_text(2), encoding="utf-8")
    plain = pdf_bytes(
        [[(56, 760 - 14 * n, line, 10) for n, line in enumerate(wrap(case_text(3), 80))]]
    )
    (folder / "owner_locked.pdf").write_bytes(encrypted_pdf(plain, user_password=""))
    aes = pdf_bytes(
        [[(56, 760 - 14 * n, line, 10) for n, line in enumerate(wrap(case_text(7), 80))]]
    )
    (folder / "aes_open.pdf").write_bytes(encrypted_pdf(aes, "", "AES-256"))
    (folder / "aes_locked.pdf").write_bytes(encrypted_pdf(aes, "secret", "AES-256"))
    windows = "A 70-year-old man’s “stiff” knee – a café owner – was aspirated."
    (folder / "windows.txt").write_bytes(f"{windows} {case_text(4)}".encode("cp1252"))
    # Byte 0x81 is undefined in cp1252: the file can only be Latin-1.
    (folder / "latin.txt").write_bytes(b"Stra\xdfe \x81 " + case_text(5).encode("latin-1"))

    (folder / "locked.pdf").write_bytes(encrypted_pdf(plain, user_password="secret"))
    (folder / "corrupt.pdf").write_bytes(plain[: len(plain) // 2])
    (folder / "renamed.pdf").write_bytes(b"PK\x03\x04 a zip archive, not a PDF")
    (folder / "empty.txt").write_text("  \n\n ", encoding="utf-8")
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "scan.pdf").write_bytes(image_only_pdf())
    with open(folder / "huge.txt", "wb") as f:  # sparse: 51 MB on paper, nothing on disk
        f.truncate(51 * 2**20)
    with open(folder / "one_byte_over.txt", "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    (folder / "empty_too.txt").write_bytes(b"")  # the same (no) bytes as empty.pdf
    # Links out of the corpus: to a case report elsewhere, and to a system file.
    secret = folder.parent / "outside.txt"
    secret.write_text(f"{OUTSIDE} {case_text(6)}", encoding="utf-8")
    (folder / "linked.txt").symlink_to(secret)
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "elsewhere").symlink_to(folder.parent, target_is_directory=True)
    (folder / "notes.docx").write_bytes(b"PK\x03\x04 word document")
    (folder / "binary.txt").write_bytes(os.urandom(4096))
    (folder / "broken.xml").write_text("<article><front><article-meta>", encoding="utf-8")
    (folder / "catalogue.xml").write_text("<catalog><book>x</book></catalog>", encoding="utf-8")
    (folder / "good_one copy.txt").write_text(case_text(1), encoding="utf-8")
    # The same article as JATS and as PDF: the DOI says so; the JATS copy is preferred.
    (folder / "lithium.nxml").write_text(
        jats_article(
            ARTICLE_TITLE,
            ARTICLE_DOI,
            [("Case presentation", ARTICLE_PARAGRAPHS)],
            abstract="Thiazides raise lithium levels.",
        ),
        encoding="utf-8",
    )
    lines = [ARTICLE_TITLE, f"doi: {ARTICLE_DOI}", *wrap(" ".join(ARTICLE_PARAGRAPHS), 85)]
    (folder / "lithium.pdf").write_bytes(
        pdf_bytes([[(56, 780 - 14 * n, line, 10) for n, line in enumerate(lines)]])
    )
    # The same article as JATS and as a web page, neither with a DOI: title, year, author.
    (folder / "gout.nxml").write_text(
        jats_article(
            GOUT_TITLE,
            "",
            [("Case presentation", [GOUT_JATS])],
            authors=[("Kofi", "Mensah")],
            year=2018,
        ),
        encoding="utf-8",
    )
    (folder / "gout.html").write_text(GOUT_PAGE, encoding="utf-8")
    # The same text twice with one word changed: near-identical text.
    (folder / "bartonella.txt").write_text(NEAR_TEXT, encoding="utf-8")
    (folder / "bartonella_v2.txt").write_text(
        NEAR_TEXT.replace("three weeks", "about three weeks"), encoding="utf-8"
    )


CASES = {
    "locked.pdf": "the PDF is encrypted; save an unencrypted copy",
    "aes_locked.pdf": "the PDF is encrypted; save an unencrypted copy",
    "corrupt.pdf": "not a readable PDF",
    "renamed.pdf": "not a PDF file (no %PDF header)",
    "empty.txt": "the file is empty",
    "empty.pdf": "the file is empty",
    "scan.pdf": "the PDF has no text layer (scanned images?); run OCR first",
    "huge.txt": "too large (53,477,376 bytes; the limit is 50 MB, 52,428,800 bytes)",
    "one_byte_over.txt": "too large (52,428,801 bytes; the limit is 50 MB, 52,428,800 bytes)",
    "empty_too.txt": "the file is empty",
    "linked.txt": "a link to a file outside the corpus folder; links out of it are not followed",
    "passwd.txt": "a link to a file outside the corpus folder; links out of it are not followed",
    "elsewhere": "a link to a folder outside the corpus folder; links out of it are not followed",
    "notes.docx": "unsupported format '.docx'",
    "binary.txt": "looks like a binary file, not text",
    "broken.xml": "not well-formed XML",
    "catalogue.xml": "not a JATS article (no <article> element)",
    "good_one copy.txt": "duplicate: same content as good_one.txt",
    "lithium.pdf": f"duplicate: same DOI {ARTICLE_DOI} as lithium.nxml",
    "bartonella_v2.txt": "duplicate: near-identical text as bartonella.txt",
    "gout.html": "duplicate: same title as gout.nxml",
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    build_folder(root / "corpus")
    settings = load_settings(corpus_dir=root / "corpus", index_dir=root / "index")
    report = sync([settings.corpus_dir], settings)
    store = Store(settings.index_dir)
    return settings, report, {Path(d.source).name: d for d in store.documents()}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_file_is_reported_with_its_reason_and_the_rest_indexed(indexed, name):
    settings, report, docs = indexed
    reasons = {Path(p).name: r for p, r in report.failed}
    assert name in reasons, f"{name} was not reported"
    assert reasons[name].startswith(CASES[name]), reasons[name]
    assert name not in docs
    assert set(GOOD) | {"lithium.nxml", "bartonella.txt", "gout.nxml"} <= set(docs)


def test_nothing_else_failed_and_the_index_is_sound(indexed):
    settings, report, docs = indexed
    assert {Path(p).name for p, _ in report.failed} == set(CASES)
    assert sorted(docs) == sorted([*GOOD, "lithium.nxml", "bartonella.txt", "gout.nxml"])
    assert report.documents == len(docs) and index_problems(settings.index_dir) == []


def test_nothing_outside_the_corpus_was_read(indexed):
    settings, _, _ = indexed
    store = Store(settings.index_dir)
    text = " ".join(c.text for c, _ in store.chunks(range(1, 1000)).values())
    assert OUTSIDE not in text and "root:" not in text


def test_an_aes_encrypted_pdf_that_opens_without_a_password_is_read(indexed):
    _, _, docs = indexed
    store = Store(indexed[0].index_dir)
    ids = store.chunk_ids_for_docs([docs["aes_open.pdf"].doc_id])
    text = " ".join(c.text for c, _ in store.chunks(ids).values())
    assert "presented with" in text and "Investigations revealed" in text


def test_non_utf8_text_is_decoded(indexed):
    settings, _, _ = indexed
    store = Store(settings.index_dir)
    text = " ".join(c.text for c, _ in store.chunks(range(1, 1000)).values())
    assert "A 70-year-old man’s “stiff” knee – a café owner – was aspirated." in text
    assert "Straße" in text


def test_the_preferred_copy_keeps_its_metadata(indexed):
    _, _, docs = indexed
    assert docs["lithium.nxml"].doi == ARTICLE_DOI
    assert docs["lithium.nxml"].title == ARTICLE_TITLE


def test_a_duplicate_is_indexed_once_its_twin_is_gone(indexed, tmp_path):
    """Skipping is decided afresh each sync: remove the kept copy and the other one is indexed."""
    settings, _, _ = indexed
    import shutil

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for name in ("bartonella.txt", "bartonella_v2.txt"):
        shutil.copy(settings.corpus_dir / name, corpus / name)
    mine = load_settings(corpus_dir=corpus, index_dir=index)
    first = sync([corpus], mine)
    assert [Path(p).name for p in first.added] == ["bartonella.txt"]
    (corpus / "bartonella.txt").unlink()
    second = sync([corpus], mine)
    assert [Path(p).name for p in second.added] == ["bartonella_v2.txt"]
    assert [Path(p).name for p in second.removed] == ["bartonella.txt"]
    assert second.documents == 1
