"""The passage reader: an extractive reader that reads a sentence among its neighbours.

The passages below are invented for these tests and are in no gold or training set.
"""

from __future__ import annotations

import json

import pytest

from rag.answer_types import expected_type
from rag.answering import Answerer
from rag.config import Settings
from rag.documents import Chunk, Hit
from rag.query import Query
from rag.reader.model import reader_for
from rag.reader.passage import NO_SPAN, passage_reader_for

CASE = (
    "A 46-year-old carpenter presented with three weeks of fever and night sweats. "
    "Blood cultures grew Streptococcus mitis, and echocardiography showed a 9 mm vegetation "
    "on the mitral valve. He was treated with intravenous benzylpenicillin for four weeks. "
    "His fever settled within five days."
)


def _spans(text: str) -> list[tuple[int, int]]:
    from rag.chunking import quotable_sentences

    return [(s.start, s.end) for s in quotable_sentences(text)]


@pytest.mark.parametrize(
    ("question", "holds"),
    [
        ("What grew in the blood cultures?", "Streptococcus mitis"),
        ("Which antibiotic was he given?", "benzylpenicillin"),
        ("How big was the vegetation?", "9 mm"),
        ("How quickly did the fever settle?", "five days"),
    ],
)
def test_the_sentence_holding_the_span_scores_highest(question, holds):
    spans = _spans(CASE)
    [scores] = passage_reader_for().score(question, [(CASE, spans)])
    best = spans[int(scores.argmax())]
    assert holds in CASE[best[0] : best[1]]


def test_a_sentence_cut_off_by_truncation_gets_no_span():
    filler = "The ward was quiet that night and nothing of note happened. " * 60
    text = filler + "She was given 40 mg of prednisolone daily."
    spans = _spans(text)
    [scores] = passage_reader_for().score("What dose of prednisolone?", [(text, spans)])
    assert scores[-1] == NO_SPAN
    assert (scores[:3] > NO_SPAN).all()


def _hit(text: str, section: str, rank: int) -> Hit:
    chunk = Chunk("doc", rank, text, section, None, None, 0, len(text), 0, chunk_id=rank)
    return Hit(chunk=chunk, score=1.0 / rank, rank=rank)


UNRELATED = (
    "The hospital car park was resurfaced over the summer. Visitors were asked to use the "
    "north entrance while the work went on. The cafeteria extended its opening hours."
)


def _judged(hits: list[Hit], question: str, **settings) -> list:
    from rag.embedding import embedder_for

    query = Query(question, question, None, expected_type(question), ())
    answering = Settings(**settings).answering
    embedder = embedder_for(Settings().index)  # loaded once per process
    answerer = Answerer(
        embedder, answering, reader=reader_for(), passage_reader=passage_reader_for()
    )
    return answerer.judge(query, answerer.candidates(hits))


def test_the_answerer_adds_the_span_score_only_where_it_is_weighted():
    hits = [_hit(CASE, "Case presentation", 1)]

    def candidates(weight: float):
        settings = {"passage_weight": weight, "reader_similarity_weight": 0.0}
        return _judged(hits, "Which antibiotic was he given?", **settings)

    off, on = candidates(0.0), candidates(2.0)
    assert all(c.span is None for c in off)
    assert all(c.span is not None for c in on)
    for a, b in zip(off, on, strict=True):
        assert b.score == pytest.approx(a.score + 2.0 * b.span, abs=1e-4)


def test_the_sentence_reader_reads_the_shortlist_best_by_similarity():
    hits = [_hit(CASE, "Case presentation", 1), _hit(UNRELATED, "Notes", 2)]
    question = "Which antibiotic was he given?"
    every = _judged(hits, question, reader_shortlist=0, passage_weight=0.0)
    short = _judged(hits, question, reader_shortlist=3, passage_weight=0.0)
    assert len(every) == 7 and all(c.probability is not None for c in every)
    by_similarity = sorted(every, key=lambda c: -c.similarity)
    assert [c.sentence for c in short] == [c.sentence for c in every if c in by_similarity[:3]]
    assert all(c.probability is not None and c.span is None for c in short)
    assert any("benzylpenicillin" in c.sentence for c in short)


def test_a_question_asking_for_a_kind_of_fact_shortlists_the_sentences_stating_one():
    echo = (
        "The vegetation on the mitral valve was large and mobile, and the vegetation "
        "prolapsed into the left ventricle in systole. Transoesophageal imaging later "
        "measured it at 14 mm. The aortic valve was normal."
    )
    hits = [_hit(echo, "Case presentation", 1), _hit(UNRELATED, "Notes", 2)]
    question = "How big was the vegetation?"
    every = _judged(hits, question, reader_shortlist=0, passage_weight=0.0)
    best = max(every, key=lambda c: c.similarity)
    assert "14 mm" not in best.sentence  # the example: the size is not the closest sentence
    short = _judged(hits, question, reader_shortlist=1, passage_weight=0.0)
    assert [c.sentence for c in short] == [c.sentence for c in every if "14 mm" in c.sentence]
    asked = "What was the vegetation like?"  # no kind of fact: the closest sentence alone
    closest = max(_judged(hits, asked, reader_shortlist=0), key=lambda c: c.similarity)
    untyped = _judged(hits, asked, reader_shortlist=1, passage_weight=0.0)
    assert [c.sentence for c in untyped] == [closest.sentence]


def test_the_passage_reader_reads_first_and_its_span_helps_choose_the_shortlist():
    hits = [_hit(CASE, "Case presentation", 1), _hit(UNRELATED, "Notes", 2)]
    question = "Which antibiotic was he given?"
    every = _judged(hits, question, reader_shortlist=0, passage_weight=0.5)
    assert all(c.span is not None and c.span != NO_SPAN for c in every)
    by_similarity = sorted(every, key=lambda c: -c.similarity)[:2]
    by_both = sorted(every, key=lambda c: -(c.similarity + 0.5 * c.span))[:2]
    assert by_both != by_similarity  # the example tells the two orders apart
    short = _judged(hits, question, reader_shortlist=2, passage_weight=0.5)
    assert [c.sentence for c in short] == [c.sentence for c in every if c in by_both]
    spans = {c.sentence: c.span for c in every}
    for c in short:  # every passage was read before the shortlist was drawn
        assert c.span == pytest.approx(spans[c.sentence], abs=1e-4)
        assert c.probability is not None
    lead = max(short, key=lambda c: c.score)
    assert "benzylpenicillin" in lead.sentence


def test_the_training_command_runs_a_few_steps_and_exports_int8(tmp_path):
    from rag.reader import train_span

    out = tmp_path / "model"
    train_span.main(
        ["--base", "", "--replay", "5", "--max-steps", "2", "--batch", "2", "--out", str(out),
         "--work-dir", str(tmp_path / "work"), "--threads", "1", "--limit", "3"]
    )  # fmt: skip
    report = json.loads((out / "passage_training.json").read_text())
    assert report["steps"] == 2
    [scores] = passage_reader_for(out).score("Which antibiotic?", [(CASE, _spans(CASE))])
    assert scores.shape == (4,)
