"""Formats: PDF (two columns, running lines, hyphens, ligatures, metadata), JATS, HTML.

Every input is built by the test (reportlab for PDFs) and read by the real loaders; the
end-to-end test indexes all three formats with the real model, FAISS and SQLite.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from fixtures_builders import jats_article, pdf_bytes, two_column_page, wrap
from pypdf import PdfReader

from rag.config import load_settings
from rag.indexing import sync
from rag.ingest import load_document
from rag.store import Store

LEFT = (
    "A fifty-eight year old woman presented with three weeks of fever, weight loss and "
    "aching shoulders. Her erythrocyte sedimentation rate was ninety millimetres per hour "
    "and a temporal artery biopsy showed granulomatous inflammation with giant cells."
)
RIGHT = (
    "Prednisolone at forty milligrams daily relieved the headache within two days. The dose "
    "was tapered over eighteen months with tocilizumab added as a steroid-sparing agent, "
    "and she had no visual loss or relapse at the two year review."
)
CASE = [
    "The ﬁrst signs were ﬂuid-ﬁlled cysts over both wrists of a forty year old carpenter.",
    "Aspiration yielded clear gelatinous ﬂuid and no crystals were seen under polarised light.",
    "Magnetic resonance imaging showed multiloculated ganglia tracking along the flexor tendons.",
    "He had sustained a hyper-",
    "extension injury of the right wrist in a fall from a ladder six months earlier.",
    "Both cysts were excised and histology confirmed ganglia without synovial proliferation.",
    "There was no recurrence at the one year review and grip strength had returned to normal.",
]
HEADER = "Journal of Invented Case Reports 2021; 7: 112-118"


def paged_pdf(title: str | None = "Bilateral wrist ganglia after a ladder fall") -> bytes:
    """Four pages with a running header, 'Page n of 4' footers and the CASE lines on page 3."""
    pages = []
    fillers = [
        "Ganglion cysts are the commonest soft tissue swellings of the hand and wrist.",
        "Most arise from the scapholunate ligament and present as painless dorsal lumps.",
        "Bilateral presentation after a single injury has rarely been described before.",
        "We describe such a case and review the mechanisms proposed in the literature.",
    ]
    for n in range(1, 5):
        runs = [(56, 800, HEADER, 8)]
        body = CASE if n == 3 else [f"{line} Page {n} adds detail." for line in fillers]
        y = 760
        if n == 1:
            runs += [(56, y, "Bilateral Wrist Ganglia After a Ladder Fall", 18)]
            runs += [(56, y - 24, "Ana Ruiz1, Tom Lee2 and Mia Chen1", 10)]
            runs += [
                (56, y - 38, "Published: 3 May 2021  https://doi.org/10.5555/jicr.2021.0112", 8)
            ]
            y -= 70
        for line in body:
            runs.append((56, y, line, 10))
            y -= 14
        runs.append((260, 40, f"Page {n} of 4", 8))
        pages.append(runs)
    return pdf_bytes(pages, title=title, author=None)


def load(tmp_path: Path, name: str, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return load_document(path)


# -- PDF ------------------------------------------------------------------------------------
def test_two_column_page_is_read_left_column_then_right(tmp_path):
    data = pdf_bytes([two_column_page(LEFT, RIGHT, top="Giant cell arteritis in a runner")])
    plain = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert LEFT not in " ".join(plain.split())  # content-stream order interleaves columns
    doc = load(tmp_path, "two.pdf", data)
    flat = " ".join(doc.text.split())
    assert LEFT in flat and RIGHT in flat and flat.index(LEFT) < flat.index(RIGHT)
    assert doc.sections[0].heading == "Giant cell arteritis in a runner"  # full-width, on top


def test_pdf_running_lines_page_numbers_hyphens_and_ligatures_are_cleaned(tmp_path):
    doc = load(tmp_path, "paged.pdf", paged_pdf())
    text = doc.text
    assert "Journal of Invented Case Reports" not in text and "Page 2 of 4" not in text
    assert not re.search(r"^\s*Page \d", text, re.M)
    assert "hyperextension injury" in text and "hyper-" not in text
    assert "The first signs were fluid-filled cysts" in text and "ﬁ" not in text
    on_page_3 = [s for s in doc.sections if "gelatinous fluid" in s.text]
    assert [s.page for s in on_page_3] == [3]


def test_pdf_metadata_from_the_info_dictionary_and_the_first_page(tmp_path):
    doc = load(tmp_path, "meta.pdf", paged_pdf(title="Bilateral wrist ganglia: a case report"))
    assert doc.title == "Bilateral wrist ganglia: a case report"  # the info dictionary wins
    assert doc.doi == "10.5555/jicr.2021.0112" and doc.year == 2021
    assert doc.authors == ["Ana Ruiz", "Tom Lee", "Mia Chen"]
    # Without an info title, the largest type on page 1 is the title.
    untitled = load(tmp_path, "untitled.pdf", paged_pdf(title=None))
    assert untitled.title == "Bilateral Wrist Ganglia After a Ladder Fall"


def test_pdf_chunks_cite_their_pages(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "paged.pdf").write_bytes(paged_pdf())
    settings = load_settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    report = sync([settings.corpus_dir], settings)
    assert report.failed == [] and report.documents == 1
    store = Store(settings.index_dir)
    chunks = [c for c, _ in store.chunks(range(1, 100)).values()]
    page3 = [c for c in chunks if "gelatinous fluid" in c.text]
    assert page3 and all(c.page_start <= 3 <= c.page_end for c in page3)
    assert store.documents()[0].doi == "10.5555/jicr.2021.0112"


# -- JATS -----------------------------------------------------------------------------------
ARTICLE = jats_article(
    title="Colchicine-responsive recurrent pericarditis in a marathon runner",
    doi="10.5555/jicr.2022.0042",
    pmid="31415926",
    year=2022,
    abstract="A runner had four episodes of pericarditis before colchicine ended them.",
    body_sections=[
        (
            "Case presentation",
            [
                "A 44-year-old man had pleuritic chest pain and a pericardial rub after a race.",
                "His C-reactive protein was 87 mg/L and <italic>echocardiography</italic> "
                "showed a small effusion.",
            ],
        ),
        ("Discussion", ["Colchicine halves the rate of recurrence in such patients."]),
    ],
    figures=[("Figure 1", "Electrocardiogram showing diffuse ST elevation.")],
    references=["Imazio M. Colchicine for recurrent pericarditis. Lancet 2014;383:2232-7."],
)


def test_jats_metadata_sections_and_no_references(tmp_path):
    doc = load(tmp_path, "pericarditis.nxml", ARTICLE)
    assert doc.title == "Colchicine-responsive recurrent pericarditis in a marathon runner"
    assert doc.authors == ["Ana Ruiz", "Tom Lee"]
    assert doc.journal == "Journal of Invented Case Reports" and doc.year == 2022
    assert doc.doi == "10.5555/jicr.2022.0042" and doc.pmid == "31415926"
    headings = [s.heading for s in doc.sections]
    assert headings == ["Abstract", "Case presentation", "Discussion", "Figure 1"]
    case = doc.sections[1].text
    assert "C-reactive protein was 87 mg/L and echocardiography showed" in case
    assert "Imazio" not in doc.text and "Lancet" not in doc.text
    assert doc.sections[3].text == "Electrocardiogram showing diffuse ST elevation."


def test_jats_captions_are_their_own_chunks(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "pericarditis.xml").write_text(ARTICLE, encoding="utf-8")
    settings = load_settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    assert sync([settings.corpus_dir], settings).failed == []
    chunks = [c for c, _ in Store(settings.index_dir).chunks(range(1, 100)).values()]
    figure = [c for c in chunks if c.section == "Figure 1"]
    assert [c.text for c in figure] == ["Electrocardiogram showing diffuse ST elevation."]
    assert not any("ST elevation" in c.text for c in chunks if c.section != "Figure 1")


def test_jats_does_not_expand_entities_or_fetch_the_dtd(tmp_path):
    hostile = ARTICLE.replace(
        "<!DOCTYPE article PUBLIC",
        '<!DOCTYPE article [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><!-- PUBLIC',
        1,
    ).replace('"JATS-archivearticle1.dtd">', '"JATS-archivearticle1.dtd" -->', 1)
    hostile = hostile.replace("small effusion.", "small effusion &xxe;.")
    doc = load(tmp_path, "hostile.nxml", hostile)
    assert "root:" not in doc.text


# -- HTML -----------------------------------------------------------------------------------
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sarcoid uveitis | CaseNet</title>
<meta name="citation_title" content="Sarcoid uveitis presenting as painless blurred vision">
<meta name="citation_author" content="Okafor, Ngozi">
<meta name="citation_author" content="Berg, Lars">
<meta name="citation_journal_title" content="Invented Ophthalmology Reports">
<meta name="citation_publication_date" content="2020/11/02">
<meta name="citation_doi" content="10.5555/ior.2020.77">
</head><body>
<header><nav><a href="/">Home</a> <a href="/journals">Journals</a> <a href="/login">Sign in</a>
</nav><div class="cookies">We use cookies to improve your experience on our website.
<button>Accept all cookies</button></div></header>
<main><article><h1>Sarcoid uveitis presenting as painless blurred vision</h1>
<h2>Case presentation</h2>
<p>A 35-year-old woman noticed painless blurring of vision in her left eye for two weeks.
Slit-lamp examination showed mutton-fat keratic precipitates and vitreous snowballs.</p>
<p>Chest radiography revealed bilateral hilar lymphadenopathy and serum angiotensin-converting
enzyme was raised at 98 units per litre.</p>
<figure><img src="f1.png" alt=""><figcaption>Figure 1. Fundus photograph with candle-wax
drippings along the retinal veins.</figcaption></figure>
<h2>Discussion</h2><p>Ocular involvement occurs in a quarter of patients with sarcoidosis and
may be its first sign, so a chest radiograph belongs in the work-up of granulomatous uveitis.</p>
<h2>References</h2><ol><li>Jabs DA. Ocular sarcoidosis. Am J Ophthalmol 1986;102:297.</li></ol>
</article>
<aside><h3>Related articles</h3><ul><li><a href="/a1">Uveitis in children</a></li></ul></aside>
</main><footer>© 2024 CaseNet Publishing Ltd. All rights reserved. <a href="/privacy">Privacy
policy</a> | <a href="/terms">Terms of use</a></footer></body></html>"""


def test_html_main_content_metadata_and_captions(tmp_path):
    doc = load(tmp_path, "uveitis.html", PAGE)
    assert doc.title == "Sarcoid uveitis presenting as painless blurred vision"
    assert doc.authors == ["Ngozi Okafor", "Lars Berg"]
    assert doc.journal == "Invented Ophthalmology Reports" and doc.year == 2020
    assert doc.doi == "10.5555/ior.2020.77"
    text = doc.text
    assert "mutton-fat keratic precipitates" in text and "hilar lymphadenopathy" in text
    for chrome in ("cookies", "Sign in", "Related articles", "All rights reserved", "Jabs DA"):
        assert chrome not in text, chrome
    assert [s.heading for s in doc.sections if s.heading and s.heading.startswith("Fig")] == [
        "Figure 1"
    ]
    assert "candle-wax drippings" in doc.sections[-1].text


def test_a_page_whose_date_the_metadata_reader_cannot_parse_is_still_indexed(tmp_path):
    """A reference's "2020;11:55-63." reads to htmldate as 11:55 at an offset of -63 hours,
    and its date check raises: the page keeps its text and its own title."""
    page = (
        "<html><head><title>Gout of the patella in a young man</title></head><body>"
        f"<h1>Gout of the patella in a young man</h1><p>{LEFT}</p><p>{RIGHT}</p>"
        "<h2>References</h2><ol><li>Roe P. Patellar tophi. <i>J Knee Case Rep</i> "
        "2020;11:55-63.</li></ol></body></html>"
    )
    doc = load(tmp_path, "patella.html", page)
    assert doc.title == "Gout of the patella in a young man"
    assert "temporal artery biopsy" in doc.text


def test_html_superscripts_and_brackets_read_as_plain_text(tmp_path):
    """trafilatura's Markdown keeps <sup>/<sub> tags and escapes brackets ("\\[1\\]"); a
    quoted sentence shows neither."""
    page = (
        "<html><head><title>Nutcracker syndrome in a young woman</title></head><body>"
        "<h1>Nutcracker syndrome in a young woman</h1>"
        f"<p>{LEFT} Her BMI was 18.1 kg/m<sup>2</sup> and her PaCO<sub>2</sub> was normal.</p>"
        f"<p>{RIGHT} The phenomenon is well described [1] and rarely symptomatic [2, 3].</p>"
        "</body></html>"
    )
    text = load(tmp_path, "nutcracker.html", page).text
    assert "18.1 kg/m2 and her PaCO2 was normal" in text
    assert "well described [1] and rarely symptomatic [2, 3]." in text
    assert not re.search(r"</?su[pb]>|\\\\", text), text


@pytest.mark.parametrize("suffix", [".htm", ".html"])
def test_html_page_without_an_article_is_reported(tmp_path, suffix):
    from rag.errors import RagError

    with pytest.raises(RagError, match="no article text"):
        load(
            tmp_path, f"empty{suffix}", "<html><body><nav><a href='/'>Home</a></nav></body></html>"
        )


def test_wrap_helper_keeps_words():
    assert " ".join(wrap(LEFT, 44)) == LEFT
