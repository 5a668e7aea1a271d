"""The Streamlit app through AppTest: real model, real FAISS, real SQLite, the real app.py.

Each test points the app at an index with ``RAG_INDEX_DIR``; the app reads it through
``load_settings()`` on every run, and the cached Pipeline is keyed by the settings.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import sqlite3
import string
import threading
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from rag.config import Settings
from rag.indexing import sync
from rag.store import CATALOG
from rag.titles import titles
from rag.ui.ask_page import EXAMPLES, UNEXPECTED
from rag.ui.common import corpus_file, excerpt_bounds, highlighted, inert, load_pipeline

ROOT = Path(__file__).resolve().parent.parent
DURA = "Which suture was used to repair the dura?"
OFF_TOPIC = "Which anticoagulant is preferred for stroke prevention in atrial fibrillation?"
HOSTILE_TEXT = (
    "Intravenous immunoglobulin in a hostile test case\n\n"
    "The patient was treated with intravenous immunoglobulin <script>alert(1)</script> at a "
    "dose of 2 g/kg over twelve hours. Her fever settled within a day and the <b>bold</b> "
    "rash faded. Further reading is at [click](http://evil.example) and *starred* _under_ "
    "`tick` # hash $x^2$ :red[colour] www.evil.example.\n\n"
    "    Four leading spaces would make a Markdown code block.\n"
)
HOSTILE_META = {
    "title": "<img src=x onerror=alert(2)> *Evil* [title](http://evil.example)",
    "authors": ["<b>Mallory</b>", "_Eve_"],
    "year": 2024,
}
BENIGN_TEXT = (
    "Colchicine for recurrent pericarditis\n\n"
    "A 44-year-old man with a second episode of pericarditis was given colchicine 0.5 mg "
    "twice daily for three months, and the pain did not return at six months.\n"
)
# Tags the page itself puts around (escaped) document text; anything else is an injection.
PAGE_TAGS = {"div", "span", "mark", "br", "a"}


# -- helpers ----------------------------------------------------------------------------
def visible(markup: str) -> str:
    """What a reader sees: our tags removed (blocks on lines of their own), text decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", re.sub(r"<br>|</div>", "\n", markup)))


def markdown_values(at: AppTest) -> list[str]:
    """Every string the page hands to Streamlit's Markdown renderer."""
    kinds = ("markdown", "caption", "title", "subheader", "header", "info", "warning", "error")
    return [el.value for kind in kinds for el in at.get(kind)]


def page_text(at: AppTest) -> str:
    return "\n".join(visible(v) for v in markdown_values(at))


def card_blocks(at: AppTest, prefix: str) -> list[Block]:
    """The source cards whose container key starts with ``card-<prefix>``."""
    return [
        node
        for node in at.main
        if isinstance(node, Block) and (node.key or "").startswith(f"card-{prefix}")
    ]


def cards(at: AppTest, prefix: str) -> list[str]:
    """Visible text of each source card whose container key starts with ``card-<prefix>``."""
    return ["\n".join(visible(m.value) for m in b.get("markdown")) for b in card_blocks(at, prefix)]


def open_app(monkeypatch, settings: Settings) -> AppTest:
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("RAG_CORPUS_DIR", str(settings.corpus_dir))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.text_input(key="question").input(question)
    next(b for b in at.button if b.label == "Ask").click()
    at.run()
    assert not at.exception, at.exception
    return at


def copy_index(source: Path, target: Path) -> Path:
    """A consistent copy of an index folder (SQLite's backup API, then the vectors)."""
    target.mkdir(parents=True)
    src, dst = sqlite3.connect(source / CATALOG), sqlite3.connect(target / CATALOG)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    for f in source.glob("vectors.*.faiss"):
        shutil.copy(f, target / f.name)
    return target


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each case starts without cached Pipelines (the model itself stays loaded)."""
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture(scope="module")
def hostile_settings(tmp_path_factory, seed_settings) -> Settings:
    """An index of a document full of HTML and Markdown, and a benign one from 2019."""
    corpus = tmp_path_factory.mktemp("hostile_corpus")
    (corpus / "hostile.txt").write_text(HOSTILE_TEXT, encoding="utf-8")
    (corpus / "benign.txt").write_text(BENIGN_TEXT, encoding="utf-8")
    catalog = {"hostile.txt": HOSTILE_META, "benign.txt": {"title": "Pericarditis", "year": 2019}}
    (corpus / "catalog.json").write_text(json.dumps(catalog), encoding="utf-8")
    settings = seed_settings.with_overrides(
        corpus_dir=corpus, index_dir=tmp_path_factory.mktemp("hostile_index")
    )
    report = sync([corpus], settings)
    assert report.documents == 2 and not report.failed
    return settings


# -- rendering helpers ------------------------------------------------------------------
@pytest.mark.parametrize(
    "text", ["<script>alert(1)</script>", "[x](http://e.example) *a* _b_ `c` # d $e$", "a&amp;b"]
)
def test_inert_keeps_characters_but_no_markup(text):
    out = inert(text)
    assert html.unescape(out) == text
    assert not set(re.sub(r"&#\d+;", "", out)) & set(string.punctuation), out


def test_inert_flattens_lines_and_indentation():
    out = inert("one\n    two  three")
    assert out == "one<br> two three"


def test_highlighted_keeps_line_breaks_at_the_edges():
    text = "Title line\nThe quoted sentence.\nNext line"
    start = text.index("The")
    out = highlighted(text, [(start - 1, text.index("\nNext") + 1)])
    assert out.count("<br>") == 2
    assert visible(out) == text


def test_highlighted_marks_exactly_the_span():
    text = "First sentence. The dura was closed with 5-0 Prolene. Last one."
    start = text.index("The dura")
    end = text.index(" Last")
    out = highlighted(text, [(start, end)])
    marked = re.search(r"<mark>(.*)</mark>", out).group(1)
    assert html.unescape(marked) == text[start:end]
    assert visible(out) == text


def test_excerpt_keeps_the_highlight_and_cuts_at_spaces():
    text = " ".join(f"word{i}" for i in range(300))
    start = text.index("word150")
    span = (start, start + len("word150 word151"))
    a, b = excerpt_bounds(text, [span], width=200)
    assert a <= span[0] and span[1] <= b
    assert text[a - 1] == " " and text[b] == " "
    assert b - a < 260


# -- the Ask page -----------------------------------------------------------------------
def test_answer_has_markers_and_source_cards(monkeypatch, seed_settings, seed_index):
    at = open_app(monkeypatch, seed_settings)
    assert [m.value for m in at.sidebar.get("metric")][:2] == ["4", str(seed_index.chunks)]
    ask(at, DURA)
    answer_html = next(v for v in markdown_values(at) if 'class="cq-answer"' in v)
    answer = visible(answer_html)
    assert "[1]" in answer
    sources = cards(at, "src-")
    assert sources and sources[0].startswith("[1]")
    # Each [n] links to its card (an anchor the card carries) and shows its sentence on hover.
    for n, quoted in re.findall(r'href="#cq-source-(\d+)"[^>]*title="([^"]*)"', answer_html):
        assert f'id="cq-source-{n}"' in "".join(markdown_values(at))
        assert html.unescape(quoted) in answer
    # Every quoted sentence is highlighted inside its card.
    marks = {
        " ".join(html.unescape(m).split())
        for v in markdown_values(at)
        for m in re.findall(r"<mark>(.*?)</mark>", v)
    }
    quoted = re.findall(r'title="([^"]*)"', answer_html)
    assert quoted and all(" ".join(html.unescape(q).split()) in marks for q in quoted)
    # The passage that answers (the dural repair with 5-0 Prolene) is cited.
    assert any("5-0 Prolene" in c for c in sources)
    # One plain-language confidence; raw scores only inside each card's Details.
    assert "probability" not in page_text(at)
    for block in card_blocks(at, "src-"):
        outside = [c.value for c in block.children.values() if c.type == "markdown"]
        details = [c for c in block.children.values() if getattr(c, "label", "") == "Details"]
        assert "score" not in visible("".join(outside))
        assert "fusion score" in visible("".join(m.value for m in details[0].get("markdown")))
    assert [b.label for b in at.get("download_button")][: len(sources)] == [
        "Download source file"
    ] * len(sources)
    assert "Closest passages" not in page_text(at)


def test_example_button_fills_the_box_and_asks(monkeypatch, seed_settings, seed_index):
    at = open_app(monkeypatch, seed_settings)
    example = next(b for b in at.button if "CREST" in b.label)
    example.click()
    at.run()
    assert at.text_input(key="question").value == example.label
    # The example was asked: its passages are shown (as sources, or as the closest ones).
    shown = cards(at, "src-") + cards(at, "more-") + cards(at, "near-")
    assert any("CREST" in c for c in shown)
    assert not any("CREST" in b.label for b in at.button), "examples stay after asking"


@pytest.mark.parametrize("question", EXAMPLES)
def test_example_questions_are_answered_by_the_seed_corpus(pipeline, question):
    answer = pipeline.ask(question)
    assert not answer.abstained and answer.citations, f"{question}: {answer.text}"


def test_abstention_shows_closest_passages(monkeypatch, seed_settings, seed_index, pipeline):
    expected = pipeline.ask(OFF_TOPIC)
    assert expected.abstained, "an off-topic question must not be answered from the seed corpus"
    at = ask(open_app(monkeypatch, seed_settings), OFF_TOPIC)
    text = page_text(at)
    assert expected.text in text and "Closest passages" in text
    assert "[1]" not in next(visible(v) for v in markdown_values(at) if "cq-answer" in v)
    near = cards(at, "near-")
    assert len(near) == len(expected.hits)
    names = titles(pipeline.store)
    assert [c.splitlines()[0] for c in near] == [
        f"#{h.rank} {names[h.chunk.doc_id]}" for h in expected.hits
    ]


def test_document_filter_restricts_sources(monkeypatch, seed_settings, seed_index, pipeline):
    doc = next(d for d in pipeline.store.documents() if d.doc_id.startswith("002"))
    at = open_app(monkeypatch, seed_settings)
    at.multiselect(key="docs").select(doc.doc_id)
    ask(at, DURA)
    shown = cards(at, "src-") + cards(at, "near-") + cards(at, "more-")
    title = titles(pipeline.store)[doc.doc_id]
    assert shown and all(title in c.splitlines()[0] for c in shown)
    assert not at.get("select_slider"), "no year filter when no document has a year"


def test_no_index_shows_what_to_do(monkeypatch, seed_settings, tmp_path):
    at = open_app(monkeypatch, seed_settings.with_overrides(index_dir=tmp_path / "none"))
    assert len(at.error) == 1
    assert "No index in" in at.error[0].value and "rag index" in at.error[0].value
    assert not at.text_input, "no question box without an index"


def test_index_from_another_model_shows_rebuild(monkeypatch, seed_settings, seed_index, tmp_path):
    index = copy_index(seed_settings.index_dir, tmp_path / "other")
    with sqlite3.connect(index / CATALOG) as db:
        (value,) = db.execute("SELECT value FROM manifest WHERE key='manifest'").fetchone()
        manifest = json.loads(value) | {"model_id": "some-other-model@0123456789ab"}
        db.execute("UPDATE manifest SET value=? WHERE key='manifest'", (json.dumps(manifest),))
    at = open_app(monkeypatch, seed_settings.with_overrides(index_dir=index))
    assert len(at.error) == 1
    message = at.error[0].value
    assert "some-other-model@0123456789ab" in message and "rebuild" in message


def test_an_unexpected_error_shows_a_message_not_a_traceback(
    monkeypatch, seed_settings, seed_index, tmp_path
):
    """A fault that is no user mistake (here a table dropped from the catalog by hand)."""
    index = copy_index(seed_settings.index_dir, tmp_path / "damaged")
    with sqlite3.connect(index / CATALOG) as db:
        db.execute("DROP TABLE chunks_fts")  # what lexical search reads
    at = ask(open_app(monkeypatch, seed_settings.with_overrides(index_dir=index)), DURA)
    assert [e.value for e in at.error] == [UNEXPECTED]
    assert "Traceback" not in page_text(at) and "chunks_fts" not in page_text(at)


def test_hostile_document_renders_as_plain_text(monkeypatch, hostile_settings):
    at = ask(open_app(monkeypatch, hostile_settings), "What dose of immunoglobulin was given?")
    values = markdown_values(at)
    for value in values:
        tags = {t.lower() for t in re.findall(r"</?\s*([A-Za-z][\w-]*)", value)}
        assert tags <= PAGE_TAGS, value
        assert "](" not in value and "*Evil*" not in value and "`" not in value, value
    assert all("<script" not in h.value.lower() for h in at.get("html"))
    text = page_text(at)
    for literal in (
        "<script>alert(1)</script>",
        "<b>bold</b>",
        "[click](http://evil.example)",
        "$x^2$ :red[colour]",
        HOSTILE_META["title"],
        "<b>Mallory</b>, _Eve_",
    ):
        assert literal in text, literal
    # Inert inside a source card too (cited, or among the closest passages).
    shown = cards(at, "src-") + cards(at, "near-") + cards(at, "more-")
    assert any("<script>alert(1)</script>" in c for c in shown)


def test_year_filter_appears_and_restricts(monkeypatch, hostile_settings):
    at = open_app(monkeypatch, hostile_settings)
    at.select_slider(key="years").set_range(2019, 2019)
    ask(at, "What dose of immunoglobulin was given?")
    shown = cards(at, "src-") + cards(at, "near-") + cards(at, "more-")
    assert shown and all("Pericarditis" in c.splitlines()[0] for c in shown)


# -- what the Ask page serves and shows of file names ------------------------------------
LINKED = {  # doc id -> text; every one answers "How was the patient treated?"
    "kept": "A 61-year-old man with gout was treated with colchicine and recovered.\n",
    "swapped": "A 35-year-old woman with migraine was treated with sumatriptan.\n",
    "outside": "A 48-year-old man with cellulitis was treated with flucloxacillin.\n",
    "rtl_exe": "A 22-year-old student with asthma was treated with salbutamol.\n",
}
RTL_NAME = "rtl\u202eexe.txt"  # shown raw, it would read "rtltxt.exe"


@pytest.fixture(scope="module")
def linked_settings(tmp_path_factory, seed_settings) -> Settings:
    """Indexed documents whose files are in the corpus (kept, and one with a bidi override
    in its name), were replaced by a link out of it since (swapped), or never were in it
    (outside: `rag index corpus/ outside.txt`)."""
    root = tmp_path_factory.mktemp("linked")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in (("kept.txt", LINKED["kept"]), ("swapped.txt", LINKED["swapped"])):
        (corpus / name).write_text(text, encoding="utf-8")
    (corpus / RTL_NAME).write_text(LINKED["rtl_exe"], encoding="utf-8")
    (root / "outside.txt").write_text(LINKED["outside"], encoding="utf-8")
    settings = seed_settings.with_overrides(corpus_dir=corpus, index_dir=root / "index")
    report = sync([corpus, root / "outside.txt"], settings)
    assert report.documents == 4 and not report.failed
    (root / "secret.txt").write_text("OUTSIDESECRET", encoding="utf-8")
    (corpus / "swapped.txt").unlink()
    (corpus / "swapped.txt").symlink_to(root / "secret.txt")
    return settings


def ask_about(monkeypatch, settings: Settings, doc_id: str) -> AppTest:
    at = open_app(monkeypatch, settings)
    at.multiselect(key="docs").select(doc_id)
    return ask(at, "How was the patient treated?")


@pytest.mark.parametrize(
    ("doc_id", "served"), [("kept", True), ("swapped", False), ("outside", False)]
)
def test_only_files_inside_the_corpus_are_offered_for_download(
    monkeypatch, linked_settings, doc_id, served
):
    at = ask_about(monkeypatch, linked_settings, doc_id)
    text = page_text(at)
    assert LINKED[doc_id].strip() in text, "the passage is shown either way"
    assert bool(at.get("download_button")) == served
    assert ("not inside the corpus folder, so it is not served" in text) != served


def test_file_names_with_bidi_characters_are_shown_escaped(monkeypatch, linked_settings):
    at = ask_about(monkeypatch, linked_settings, "rtl_exe")
    assert "rtl\\u202eexe.txt" in page_text(at)
    assert not [v for v in markdown_values(at) if "\u202e" in html.unescape(v)]


def test_corpus_file_is_the_real_file_only_inside_the_corpus(linked_settings):
    corpus = linked_settings.corpus_dir
    assert corpus_file(corpus / "kept.txt", corpus) == (corpus / "kept.txt").resolve()
    assert corpus_file(corpus / "swapped.txt", corpus) is None
    assert corpus_file(corpus.parent / "outside.txt", corpus) is None
    assert corpus_file(corpus / "missing.txt", corpus) is None
    assert corpus_file(corpus, corpus) is None


# -- sharing one Pipeline between sessions ----------------------------------------------
CONCURRENT = [  # (question, passage text its answer must come from)
    ("Which suture material was used to close the tear in the dura?", "5-0 Prolene"),
    ("What type of crystal makes up dystrophic calcinosis in scleroderma?", "hydroxyapatite"),
    ("Which tract of the cord is mainly damaged in central cord syndrome?", "corticospinal"),
    ("At what lumbar level was the calcified facet lesion located on CT?", "L5–S1"),
    ("Besides SSc, which connective tissue disease is prone to calcinosis?", "dermatomyositis"),
    ("How many patients with cervical tumoral calcinosis in CREST were reported?", "three"),
    ("Which joints are most commonly affected by tumoral calcinosis?", "hip and shoulders"),
    ("How often does tumoral calcinosis recur after excision?", "33 %"),
]


def test_one_shared_pipeline_answers_eight_sessions_at_once(seed_settings, seed_index):
    shared = load_pipeline(seed_settings)
    assert load_pipeline(seed_settings) is shared, "the app must share one Pipeline"

    def summary(answer):
        return (
            [h.chunk.chunk_id for h in answer.hits],
            [c.sentence for c in answer.citations],
        )

    alone = {q: summary(shared.ask(q)) for q, _ in CONCURRENT}
    barrier = threading.Barrier(len(CONCURRENT))
    results: dict[str, object] = {}

    def session(question: str) -> None:
        barrier.wait()
        try:
            results[question] = shared.ask(question)
        except Exception as exc:  # reported below, with the question that failed
            results[question] = exc

    threads = [threading.Thread(target=session, args=(q,)) for q, _ in CONCURRENT]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for question, expected in CONCURRENT:
        answer = results[question]
        assert not isinstance(answer, Exception), f"{question}: {answer!r}"
        assert answer.question == question
        assert any(expected in h.chunk.text for h in answer.hits), question
        assert summary(answer) == alone[question], question


def test_the_app_runs_without_a_file_watcher():
    """Streamlit's watcher re-walks the project tree (.venv included) in the app's process
    whenever its inotify queue overflows: a busy core, and an Evaluation page 2x slower."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["fileWatcherType"] == "none"
