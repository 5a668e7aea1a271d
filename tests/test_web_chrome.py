"""Site chrome in web-captured text: at most 2% of chunks with chrome, at most 2% of
article sentences lost.

22 case reports captured as plain text from five fictional sites (tests/web_captures.py)
are indexed with the real pipeline. The generator keeps each article apart from its
chrome, so every chunk can be checked: take out every article sentence, heading and
title, and whatever words are left came from the site. An article sentence is lost when
no chunk of its document holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from web_captures import Capture, captures

from rag.chunking import split_sentences
from rag.config import load_settings
from rag.indexing import sync
from rag.store import Store

MAX_CHROME_CHUNKS = 0.02
MAX_LOST_SENTENCES = 0.02


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def article_pieces(cap: Capture) -> tuple[list[str], list[str]]:
    """(sentences, all article strings: title, headings and sentences)."""
    title, sections = cap.article
    sentences = [
        norm(p[s.start : s.end]) for _, ps in sections for p in ps for s in split_sentences(p)
    ]
    return sentences, [norm(title), *(norm(h) for h, _ in sections), *sentences]


@dataclass
class Measure:
    chunks: int = 0
    chrome_chunks: list[str] = field(default_factory=list)
    sentences: int = 0
    lost: list[str] = field(default_factory=list)

    @property
    def chrome_share(self) -> float:
        return len(self.chrome_chunks) / self.chunks

    @property
    def lost_share(self) -> float:
        return len(self.lost) / self.sentences

    def summary(self) -> str:
        return (
            f"{len(self.chrome_chunks)}/{self.chunks} passages hold site chrome "
            f"({self.chrome_share:.1%}); {len(self.lost)}/{self.sentences} article sentences "
            f"lost ({self.lost_share:.1%})"
        )


def measure(caps: list[Capture], texts_by_name: dict[str, list[str]]) -> Measure:
    m = Measure()
    for cap in caps:
        sentences, pieces = article_pieces(cap)
        chunk_texts = [norm(t) for t in texts_by_name.get(cap.name, [])]
        for text in chunk_texts:
            m.chunks += 1
            rest = text
            for piece in sorted(pieces, key=len, reverse=True):
                rest = rest.replace(piece, " ")
            if re.search(r"[^\W\d_]{2,}", rest):
                m.chrome_chunks.append(f"{cap.name}: {norm(rest)[:120]}")
        whole = " ".join(chunk_texts)
        m.sentences += len(sentences)
        m.lost += [f"{cap.name}: {s[:100]}" for s in sentences if s not in whole]
    return m


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    root = tmp_path_factory.mktemp("web")
    corpus = root / "corpus"
    corpus.mkdir()
    caps = captures()
    for cap in caps:
        (corpus / cap.name).write_text(cap.text, encoding="utf-8")
    settings = load_settings(corpus_dir=corpus, index_dir=root / "index")
    report = sync([corpus], settings)
    store = Store(settings.index_dir)
    texts: dict[str, list[str]] = {}
    for chunk, doc in store.chunks(range(1, 100_000)).values():
        texts.setdefault(doc.source.rsplit("/", 1)[-1], []).append(chunk.text)
    return caps, report, texts


def test_fixture_is_varied_enough():
    caps = captures()
    assert len(caps) >= 20 and len({c.site for c in caps}) >= 5
    chrome_lines = {
        line for c in caps for line in c.text.splitlines() if line and line not in str(c.article)
    }
    assert len(chrome_lines) > 100  # not one template repeated


def test_chrome_share_and_lost_sentences_stay_under_two_percent(indexed, capsys):
    caps, report, texts = indexed
    assert report.failed == [] and report.documents == len(caps)
    m = measure(caps, texts)
    with capsys.disabled():
        sites = len({c.site for c in caps})
        print(f"\n[web chrome] {len(caps)} captures, {sites} sites: {m.summary()}")
    assert m.chrome_share <= MAX_CHROME_CHUNKS, "\n".join(m.chrome_chunks)
    assert m.lost_share <= MAX_LOST_SENTENCES, "\n".join(m.lost)


def test_the_measure_can_fail():
    """A chunk with a leftover chrome line counts, and a missing sentence counts."""
    cap = captures()[0]
    sentences, _ = article_pieces(cap)
    texts = {cap.name: [sentences[0] + " Sign in | Register", *sentences[2:]]}
    m = measure([cap], texts)
    assert len(m.chrome_chunks) == 1 and m.lost == [f"{cap.name}: {sentences[1][:100]}"]


def test_lists_are_judged_by_their_neighbours():
    """A related-articles list goes with its chrome heading; the article's own list stays."""
    from rag.documents import Section
    from rag.ingest.clean import clean_sections

    raw = "\n\n".join(
        [
            "Case presentation",
            "The patient had three weeks of fever. Her blood tests showed:",
            "Haemoglobin 71 g/L",
            "Ferritin 3 micrograms per litre",
            "She was given intravenous iron and recovered.",
            "Related articles",
            "Pitfalls in the diagnosis of giant cell arteritis",
            "An unusual cause of chronic cough in a non-smoker",
        ]
    )
    text = " ".join(s.text for s in clean_sections([Section(None, raw)]))
    assert "Haemoglobin 71 g/L" in text and "Ferritin 3 micrograms per litre" in text
    assert "Related" not in text and "Pitfalls" not in text and "chronic cough" not in text


def test_hard_wrapped_paragraphs_are_judged_whole():
    from rag.documents import Section
    from rag.ingest.clean import clean_sections

    para = (
        "Ultrasound showed multiple small hypoechoic lesions in the liver and the spleen,\n"
        "and Bartonella henselae serology was strongly positive on the second sample\n"
        "taken a week later."
    )
    sections = clean_sections([Section(None, f"Log in\nSubscribe now\n\nFindings\n\n{para}")])
    assert [(s.heading, s.text) for s in sections] == [("Findings", " ".join(para.split("\n")))]


def test_two_versions_of_one_article_keep_their_shared_text():
    """Lines shared by near-identical documents are the article's, not a site's chrome."""
    from rag.documents import Section
    from rag.ingest.clean import clean_sections, common_line_keys, line_keys

    body = "\n".join(s for _, ps in captures()[3].article[1] for s in ps)
    prompt = "Sign up for our weekly bulletin to get the latest case reports by post."
    first = f"{body}\n{prompt}"
    second = first.replace("31-year-old", "thirty-one year old")
    other = f"{case_line()}\n{prompt}"
    common = common_line_keys([line_keys(t) for t in (first, second, other)])
    for text in (first, second):
        cleaned = " ".join(s.text for s in clean_sections([Section(None, text)], common))
        assert "Gram staining showed intracellular diplococci" in cleaned
        assert prompt not in cleaned


def case_line() -> str:
    return "A 60-year-old man had gout of the big toe and was treated with colchicine."
