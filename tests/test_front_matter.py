"""Citation metadata read from the front matter of text extracted from a journal PDF.

The fixtures are invented here: a masthead, a citation line with a DOI, a label, a title
wrapped over lines, a by-line with degrees and affiliation marks, affiliations, dates,
then the article. Indexed through the real sync path into a real catalog.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import load_settings
from rag.indexing import sync
from rag.ingest.front_matter import front_matter
from rag.store import Store

TITLE_LINES = [
    "Delayed splenic rupture after colonoscopy in a 66-year-old woman",
    "on apixaban: splenectomy after failed embolisation, with a review",
    "of nine published cases",
]
TITLE = " ".join(TITLE_LINES)
BODY = """
Abstract
Splenic injury is a rare complication of colonoscopy. We report a woman who presented two
days after a screening colonoscopy with left upper quadrant pain and hypotension.

Introduction
Colonoscopy is safe, and splenic injury follows fewer than one in ten thousand procedures.

Case presentation
A 66-year-old woman on apixaban for atrial fibrillation presented with abdominal pain.
CT showed a subcapsular splenic haematoma with active extravasation.
"""
PDF_TEXT = "\n".join(
    [
        "ANNALS OF GASTROINTESTINAL CASE REPORTS",
        "Ann Gastrointest Case Rep 2024;12(2):e0147          https://doi.org/10.55512/agcr.2024.0147",
        "CASE REPORT | Open Access",
        "",
        *TITLE_LINES,
        "",
        "Oona Vainikka, MD1; Tiberius Marlowe-Achebe, MBChB2*; Ines Carvalho-Reyes1",
        "1 Department of Gastroenterology, Saltmarsh General Hospital, Eastwick, UK",
        "2 Department of Interventional Radiology, Saltmarsh General Hospital, Eastwick, UK",
        "*Correspondence: t.marlowe@saltmarsh.example.org",
        "Received 3 May 2024; accepted 2 August 2024; published online 19 August 2024",
        BODY,
    ]
)
PROSE = """Introduction
Colonoscopy is safe, and splenic injury follows fewer than one in ten thousand procedures.
Most injuries present within a day, with pain in the left upper quadrant or the shoulder.

Case presentation
A 66-year-old woman on apixaban presented two days after a colonoscopy with abdominal pain.
"""


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    root = tmp_path_factory.mktemp("front")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "splenic_rupture.txt").write_text(PDF_TEXT, encoding="utf-8")
    (corpus / "prose_only.txt").write_text(PROSE, encoding="utf-8")
    settings = load_settings(corpus_dir=corpus, index_dir=root / "index")
    report = sync([corpus], settings)
    assert not report.failed
    return {Path(d.source).name: d for d in Store(settings.index_dir).documents()}


def test_a_journal_pdfs_front_matter_in_a_text_file_gives_its_citation(docs):
    doc = docs["splenic_rupture.txt"]
    assert doc.title == TITLE
    assert doc.journal == "ANNALS OF GASTROINTESTINAL CASE REPORTS"
    assert doc.year == 2024
    assert doc.doi == "10.55512/agcr.2024.0147"
    assert doc.authors == ["Oona Vainikka", "Tiberius Marlowe-Achebe", "Ines Carvalho-Reyes"]


def test_a_text_that_opens_with_prose_gets_no_invented_citation(docs):
    doc = docs["prose_only.txt"]
    assert (doc.title, doc.journal, doc.year, doc.doi, doc.authors) == ("", "", None, "", [])


@pytest.mark.parametrize(
    ("citation", "journal", "year"),
    [
        (
            "Tropical Case Letters, 2019, Volume 8, Issue 1, pages 12-15",
            "Tropical Case Letters",
            2019,
        ),
        (
            "Northern Renal Case Reports     Vol. 3, No. 4 (2022) e0091",
            "Northern Renal Case Reports",
            2022,
        ),
        ("Clinical Skin Cases (2021) 9:e0412", "Clinical Skin Cases", 2021),
        (
            "Hand Surgery Case Archive | Volume 11 | Issue 2 | 2025 | pp. 88-94",
            "Hand Surgery Case Archive",
            2025,
        ),
    ],
)
def test_citation_lines_in_their_common_forms(citation, journal, year):
    """The title first, the citation under it, a by-line with letter marks, no masthead."""
    text = "\n".join(
        [
            *TITLE_LINES,
            citation,
            "Case report",
            "Ana Ruiz a, Tomas Lee b",
            "a Department of Surgery",
        ]
    )
    meta = front_matter(text + "\n1. Introduction\nColonoscopy is safe.\n")
    assert (meta.get("title"), meta.get("journal"), meta.get("year")) == (TITLE, journal, year)
    assert meta["authors"] == ["Ana Ruiz", "Tomas Lee"]


def test_a_title_line_that_names_a_hospital_or_published_cases_stays_in_the_title():
    lines = [
        "Twins born in a rural hospital with the same rare syndrome: a report",
        "and review of",
    ]
    lines.append("six published cases")
    meta = front_matter("\n".join([*lines, "Mia Chen1, Ravi Patel2", "Abstract", "Text."]))
    assert meta["title"] == " ".join(lines)


MARKDOWN = """# Delayed splenic rupture after colonoscopy in a woman on apixaban

*Northern Gastroenterology Case Notes* · 2023 · Volume 6 · Article e112

**Authors:** Oona Vainikka¹, Tiberius Marlowe-Achebe²

¹ Department of Gastroenterology, Saltmarsh General Hospital · ² Radiology Service

## Abstract

A woman presented two days after a colonoscopy with left upper quadrant pain.
"""


def test_markdown_front_matter_gives_journal_year_and_authors(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "spleen.md").write_text(MARKDOWN, encoding="utf-8")
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    assert not sync([corpus], settings).failed
    (doc,) = Store(settings.index_dir).documents()
    assert doc.title == "Delayed splenic rupture after colonoscopy in a woman on apixaban"
    assert (doc.journal, doc.year) == ("Northern Gastroenterology Case Notes", 2023)
    assert doc.authors == ["Oona Vainikka", "Tiberius Marlowe-Achebe"]


@pytest.mark.parametrize(
    "by_line",
    [
        "Oona Vainikka, MS; Tiberius Marlowe-Achebe, FRCOphth; Ines Carvalho-Reyes, MD",
        "Oona Vainikka (1), Tiberius Marlowe-Achebe (1), Ines Carvalho-Reyes (2)",
        "Oona Vainikka<sup>1</sup>, Tiberius Marlowe-Achebe<sup>2</sup>, "
        "Ines Carvalho-Reyes<sup>1</sup>",
    ],
)
def test_by_lines_with_degrees_or_bracketed_marks_and_no_affiliation_taken_for_names(by_line):
    text = "\n\n".join(
        [TITLE, by_line, "Endoscopy Service, Saltmarsh Eye Institute, Eastwick", "Abstract"]
    )
    meta = front_matter(text + "\nText.\n")
    assert meta["authors"] == ["Oona Vainikka", "Tiberius Marlowe-Achebe", "Ines Carvalho-Reyes"]
    assert meta["title"] == TITLE
