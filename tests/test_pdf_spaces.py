"""PDFs whose text layer has no spaces: run-together words are split, medical terms kept.

Five PDFs are built with reportlab from the invented case reports of web_articles.py
and two sentences for each of 50 long medical terms; on most lines the words are set
closer than a space (drawn one by one, or moved by TeX-like kerning), so pypdf reads
them glued ("Thepatientwasadmitted..."). They are indexed with the real pipeline, and
the passages are measured: the share of words 20 letters or longer, and whether every
term is found whole as often as the source has it.
"""

from __future__ import annotations

import io
import re

import pytest
from fixtures_builders import glued_pdf
from web_articles import ARTICLES

from rag.config import load_settings
from rag.indexing import sync
from rag.ingest.words import long_word_share, repair_run_together, split_run
from rag.store import Store

MAX_LONG_WORDS = 0.005
MEDICAL_TERMS = """hydroxychloroquine methylprednisolone immunohistochemistry electroencephalography
pneumomediastinum esophagogastroduodenoscopy cholangiopancreatography glomerulonephritis
thrombocytopenia hypoalbuminemia hepatosplenomegaly lymphadenopathy sulfamethoxazole
piperacillin ciprofloxacin levetiracetam dexamethasone cyclophosphamide mycophenolate
azathioprine tocilizumab pembrolizumab trastuzumab bevacizumab methotrexate rhabdomyolysis
hyperparathyroidism hypogammaglobulinemia pheochromocytoma craniopharyngioma
neurofibromatosis angiomyolipoma pancreaticoduodenectomy spondylodiscitis osteomyelitis
echocardiography electromyography immunofluorescence lymphohistiocytosis hemophagocytic
granulomatosis dermatomyositis sclerodactyly telangiectasia plasmapheresis bronchoalveolar
microangiopathic leukoencephalopathy choledocholithiasis intussusception""".split()
DOCS = 5


def term_sentences(term: str) -> tuple[str, str]:
    return (
        f"Notes from the admission mention {term} in the summary of the earlier records.",
        f"At the review a week later the team discussed {term} again with the family.",
    )


def document(n: int) -> list[str]:
    """Paragraphs of the n-th fixture: a share of the articles and of the terms.

    Every term is mentioned once in a paragraph of its first mentions (set with ordinary
    gaps, see ``loose``) and then in run-together lines, as a name recurs in a paper.
    """
    paragraphs = [f"Case report number {n + 1}"]
    terms = MEDICAL_TERMS[n::DOCS]
    for k, (title, sections) in enumerate(ARTICLES[n::DOCS]):
        paragraphs.append(title)
        paragraphs += [p for _, ps in sections for p in ps]
        first, second = zip(*(term_sentences(t) for t in terms[2 * k : 2 * k + 2]), strict=True)
        paragraphs[-2:-2] = [" ".join(first)]
        paragraphs.append(" ".join(second))
    for rest in terms[2 * len(ARTICLES[n::DOCS]) :]:
        paragraphs += list(term_sentences(rest))
    return paragraphs


def source_terms(n: int) -> dict[str, int]:
    text = " ".join(document(n))
    return {t: len(re.findall(rf"\b{t}\b", text)) for t in MEDICAL_TERMS if t in text}


def extracted(data: bytes, mode: str) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text(extraction_mode=mode) for p in PdfReader(io.BytesIO(data)).pages]


@pytest.fixture(scope="module")
def pdfs() -> list[bytes]:
    out = []
    for n in range(DOCS):
        paragraphs = document(n)
        loose = frozenset(k for k, p in enumerate(paragraphs) if p.startswith("Notes from"))
        out.append(glued_pdf(paragraphs, seed=n, kerned=n % 2 == 1, loose=loose))
    return out


@pytest.fixture(scope="module")
def passages(pdfs, tmp_path_factory) -> dict[int, list[str]]:
    root = tmp_path_factory.mktemp("glued")
    corpus = root / "corpus"
    corpus.mkdir()
    for n, data in enumerate(pdfs):
        (corpus / f"glued_{n}.pdf").write_bytes(data)
    settings = load_settings(corpus_dir=corpus, index_dir=root / "index")
    report = sync([corpus], settings)
    assert report.failed == [] and report.documents == DOCS
    texts: dict[int, list[str]] = {}
    for chunk, doc in Store(settings.index_dir).chunks(range(1, 100_000)).values():
        texts.setdefault(int(doc.doc_id.rsplit("_", 1)[-1]), []).append(chunk.text)
    return texts


def test_the_fixture_reads_run_together_in_both_extraction_modes(pdfs, capsys):
    """Without repair, pypdf's plain and layout modes both glue words: the test can fail.

    Plain mode breaks the line after each separately drawn word, but glues kerned text;
    after repair both modes are under the limit, and layout mode (kept for its column
    order) is printed beside plain mode.
    """
    before, after = {}, {}
    for mode in ("plain", "layout"):
        pages = [extracted(d, mode) for d in pdfs]
        before[mode] = long_word_share(" ".join(t for p in pages for t in p))
        after[mode] = long_word_share(" ".join(t for p in pages for t in repair_run_together(p)))
    with capsys.disabled():
        print(f"\n[pdf spaces] words of 20+ letters, before repair: {before}; after: {after}")
    assert all(share > 0.02 for share in before.values())
    assert all(share <= MAX_LONG_WORDS for share in after.values())
    assert len(MEDICAL_TERMS) == 50 and all(len(t) >= 10 for t in MEDICAL_TERMS)


def test_passages_have_few_long_words_and_no_split_medical_terms(passages, capsys):
    text = " ".join(t for texts in passages.values() for t in texts)
    share = long_word_share(text)
    split = []
    for n in range(DOCS):
        whole = " ".join(passages[n])
        for term, count in source_terms(n).items():
            if len(re.findall(rf"\b{term}\b", whole, re.I)) < count:
                split.append(term)
    with capsys.disabled():
        print(
            f"\n[pdf spaces] {DOCS} PDFs: words of 20+ letters in passages {share:.2%}; "
            f"medical terms split: {len(split)}/{len(MEDICAL_TERMS)} {split}"
        )
    assert share <= MAX_LONG_WORDS
    assert split == []
    assert "injected heroin presented with ten days of fever" in text


def test_split_run_keeps_words_and_splits_prose():
    assert (
        split_run("Thepatientwasadmittedforsurgery", set())
        == "The patient was admitted for surgery"
    )
    assert split_run("immunohistochemistry", set()) == "immunohistochemistry"
    assert split_run("receivedtocilizumabandrituximab", {"tocilizumab"}) == (
        "received tocilizumab and rituximab"
    )


def test_the_document_s_own_words_protect_names_the_lists_miss():
    pages = ["Eculizumab was given on the first day.", "Shewasgiveneculizumabandrecoveredfully."]
    assert repair_run_together(pages)[1] == "She was given eculizumab and recovered fully."
