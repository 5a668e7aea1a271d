"""Where in the patient's course a question and a sentence place their fact, and the
answerer's use of it: a sibling fact from the other part of the course is not quoted first."""

from __future__ import annotations

import pytest

from rag.answering import Answerer, Candidate
from rag.config import AnsweringSettings
from rag.documents import Chunk, Hit
from rag.query import Query
from rag.time_frame import frame


@pytest.mark.parametrize(
    ("text", "placed"),
    [
        ("What House-Brackmann grade did she have when she first presented?", "early"),
        ("House-Brackmann grade IV at presentation.", "early"),
        ("On the staging CT before treatment, how long was the spleen?", "early"),
        ("At 6 months her palsy had improved to House-Brackmann grade II.", "late"),
        ("A repeat CT showed that the spleen had shrunk to 13 cm.", "late"),
        ("What was her creatinine at discharge?", "late"),
        ("What was the haemoglobin?", None),
        ("On admission it was 9.1 g/dL and it had risen to 12.4 g/dL at follow-up.", None),
    ],
)
def test_a_text_is_placed_early_late_or_nowhere_in_the_course(text, placed):
    assert frame(text) == placed


def test_a_sentence_from_the_other_part_of_the_course_loses_its_lead():
    text = (
        "At 6 months her palsy had improved to House-Brackmann grade II. "
        "She had House-Brackmann grade IV at presentation. "
        "The ear canal showed vesicles."
    )
    chunk = Chunk("d", 0, text, None, None, None, 0, len(text), 0, chunk_id=1)
    hit = Hit(chunk, 0.5, 1)
    later, early, neither = (
        Candidate(hit, text.index(s), text.index(s) + len(s), score=s_score)
        for s, s_score in (
            ("At 6 months her palsy had improved to House-Brackmann grade II.", 2.0),
            ("She had House-Brackmann grade IV at presentation.", 1.0),
            ("The ear canal showed vesicles.", 0.5),
        )
    )
    answerer = Answerer(None, AnsweringSettings(time_frame_penalty=3.0))
    asked = Query("What grade did she have when she first presented?", "", None, None, ())
    answerer.demote_other_time_frame(asked, [later, early, neither])
    assert (later.score, early.score, neither.score) == (-1.0, 1.0, 0.5)
    answerer.demote_other_time_frame(Query("What grade did she have?", "", None, None, ()), [early])
    assert early.score == 1.0
