"""Case cards: read at index time, stored with the documents, one per patient; similar
cases ranked by passages and agreeing fields. Reports here are written for these tests."""

from __future__ import annotations

import json

import pytest

from rag.cards import FIELD_CUES, FieldReader, extract_cards, patients
from rag.config import Settings
from rag.documents import CardField, CaseCard, Chunk
from rag.embedding import embedder_for
from rag.reader.model import reader_for
from rag.similar import agreeing_fields, rank_cases

TWO_PATIENTS = """Two siblings with lead poisoning from imported pottery.
Case 1
A 6-year-old boy presented with abdominal pain and constipation. His blood lead level was 62 ug/dL.
He was treated with oral succimer for 19 days. He recovered fully by three months.
Case 2
His 3-year-old sister presented with irritability and anaemia. Her blood lead level was 48 ug/dL.
She received oral succimer as well. Her anaemia resolved by six weeks.
Discussion
A 45-year-old man with lead poisoning from ayurvedic remedies was reported by Smith et al.
"""

ONE_PATIENT_WITH_REVIEW = """Septic arthritis of the sternoclavicular joint.
A 71-year-old woman presented with a painful swelling over the right sternoclavicular joint.
Aspiration grew Staphylococcus aureus and she was treated with intravenous flucloxacillin.
Previous cases were reported in 34-year-old and 52-year-old intravenous drug users.
"""


def _reader() -> FieldReader:
    return FieldReader(reader_for(), embedder_for(Settings().index))


def _chunks(doc_id: str, text: str) -> list[Chunk]:
    return [Chunk(doc_id, 0, text, None, None, None, 0, len(text), 0, chunk_id=1)]


def test_two_marked_patients_get_two_cards_and_the_literature_is_not_a_patient():
    cards = extract_cards("lead", "Lead", _chunks("lead", TWO_PATIENTS), _reader())
    assert [(c.patient, c.fields["age"].value, c.fields["sex"].value) for c in cards] == [
        (1, 6, "male"),
        (2, 3, "female"),
    ]
    for card in cards:
        quotes = [f.quote for f in card.fields.values() if f is not None]
        assert quotes and all(q in TWO_PATIENTS for q in quotes)
        assert not any("Smith" in q or "45-year-old" in q for q in quotes)


def test_ages_of_earlier_cases_are_not_the_patients_age():
    (card,) = extract_cards("sc", "SC", _chunks("sc", ONE_PATIENT_WITH_REVIEW), _reader())
    assert card.fields["age"].value == 71 and card.fields["sex"].value == "female"
    assert not card.several
    assert all("Previous cases" not in f.quote for f in card.fields.values() if f)


WITH_PRINTED_MATTER = """Spinal epidural abscess after acupuncture.
A 58-year-old man presented with fever and back pain after acupuncture.
(A) Sagittal T2-weighted MRI showing the collection behind the T10 vertebral body.
Figure 2: Axial MRI at the same level.
MRI: magnetic resonance imaging; CT: computed tomography.
He underwent a T9-T11 laminectomy and the abscess was drained.
ECG: sinus tachycardia at 118 beats per minute.
Epidural abscess after acupuncture is rare and usually staphylococcal3,7-9.
Blood cultures grew Staphylococcus aureus and his HbA1c was 9.1%, with JAK2 and IgG4 tests normal.
He was walking without aid at three months.
Written informed consent for publication was obtained from the patient.
The authors would like to acknowledge the radiology team for the images.
This work received no funding, and the authors declare no conflicts of interest.
"""


def test_captions_abbreviation_lists_and_consent_lines_are_not_the_patient():
    """What a journal prints around the case account (captions, consent, thanks, funding,
    a literature sentence with its references glued on) is never a card field, while a
    shorthand finding ("ECG: ...") or a test named with a digit ("HbA1c", "JAK2") still is
    part of it."""
    (case,) = patients([(None, s) for s in WITH_PRINTED_MATTER.splitlines()[1:]])
    kept = [s for _, s in case]
    assert kept == [
        "A 58-year-old man presented with fever and back pain after acupuncture.",
        "He underwent a T9-T11 laminectomy and the abscess was drained.",
        "ECG: sinus tachycardia at 118 beats per minute.",
        "Blood cultures grew Staphylococcus aureus and his HbA1c was 9.1%, with JAK2 and IgG4 "
        "tests normal.",
        "He was walking without aid at three months.",
    ]
    (card,) = extract_cards("sea", "SEA", _chunks("sea", WITH_PRINTED_MATTER), _reader())
    assert all(any(f.quote in k for k in kept) for f in card.fields.values() if f)


def test_a_text_without_a_patient_gets_no_card():
    text = "Lead is a heavy metal. It accumulates in bone and impairs haem synthesis."
    assert extract_cards("x", "X", _chunks("x", text), _reader()) == []
    assert patients([(None, text)]) == [[(None, text)]]


# A web capture of a paywalled report: its abstract and introduction, but no account.
FRAGMENT = (
    "Pyogenic sacroiliitis is an uncommon infection of the sacroiliac joint. It is usually "
    "caused by Staphylococcus aureus and may mimic disc disease. Magnetic resonance imaging "
    "is the most sensitive test in early disease. We report the clinical presentation, "
    "imaging and treatment of pyogenic sacroiliitis of the left sacroiliac joint in a "
    "patient with psoriasis. Our patient is unique in that the infection spread into the "
    "iliacus muscle within a week. In addition, a second abscess lay in the gluteus medius."
)


def test_a_fragment_without_an_account_gets_only_what_its_presenting_sentence_states():
    """The background of an introduction is not the patient: a fragment's card holds the
    condition its authors present, and leaves blank what it never tells (the complaint,
    the course, the outcome) rather than guess them from the other sentences."""
    chunk = Chunk("frag", 0, FRAGMENT, "Abstract", None, None, 0, len(FRAGMENT), 0, chunk_id=1)
    (card,) = extract_cards("frag", "Sacroiliitis", [chunk], _reader())
    assert card.fields["diagnosis"].quote.startswith("We report the clinical presentation")
    assert set(name for name, f in card.fields.items() if f) <= {"diagnosis", "site"}


def _card(doc_id: str, age: int, sex: str, site: str) -> CaseCard:
    fields = {
        "age": CardField(age, f"A {age}-year-old {sex}."),
        "sex": CardField(sex, f"A {age}-year-old {sex}."),
        "site": CardField(None, site),
    }
    return CaseCard(doc_id, doc_id, fields=fields)


def test_similar_cases_rank_by_similarity_plus_agreeing_fields():
    query = _card("summary", 60, "female", "Pain in the knee.")
    summary = "A 60-year-old woman with a swollen knee."
    near = _card("near", 64, "female", "The knee was swollen and warm.")
    far = _card("far", 20, "male", "The elbow was red.")
    assert set(agreeing_fields(query, near, summary)) == {"age", "sex", "site"}
    assert agreeing_fields(query, far, summary) == {}
    ranked = rank_cases(summary, query, [far, near], {"far": 0.5, "near": 0.45})
    assert [m.card.doc_id for m in ranked] == ["near", "far"]
    assert ranked[0].matched["site"] == "The knee was swollen and warm."


@pytest.fixture
def card_index(tmp_path):
    from rag.config import load_settings
    from rag.indexing import sync

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lead.txt").write_text(TWO_PATIENTS)
    (corpus / "sc.txt").write_text(ONE_PATIENT_WITH_REVIEW)
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index", case_cards=True)
    sync([corpus], settings)
    return corpus, settings


def test_cards_are_stored_at_index_time_and_follow_the_corpus(card_index, capsys):
    from rag.cli import main
    from rag.indexing import sync

    corpus, settings = card_index
    assert main(["cards", "--json", "--index", str(settings.index_dir)]) == 0
    cards = json.loads(capsys.readouterr().out)
    assert [(c["doc_id"], c["patient"]) for c in cards] == [("lead", 1), ("lead", 2), ("sc", 1)]
    assert set(cards[0]["fields"]) >= {"age", "sex", "complaint", "treatment", "outcome"}
    assert cards[2]["fields"]["age"] == {
        "value": 71,
        "quote": ONE_PATIENT_WITH_REVIEW.split("\n")[1],
    }

    (corpus / "sc.txt").write_text(ONE_PATIENT_WITH_REVIEW.replace("71-year-old", "73-year-old"))
    (corpus / "lead.txt").unlink()
    sync([corpus], settings)
    assert main(["cards", "--json", "--index", str(settings.index_dir)]) == 0
    cards = json.loads(capsys.readouterr().out)
    assert [(c["doc_id"], c["fields"]["age"]["value"]) for c in cards] == [("sc", 73)]


def test_rag_similar_prints_cases_best_first_with_agreeing_fields(card_index, capsys):
    from rag.cli import main

    _, settings = card_index
    summary = "Seventy-year-old lady, painful swollen right sternoclavicular joint; she is 70."
    assert main(["similar", summary, "--json", "--index", str(settings.index_dir)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"] == summary and out["cases"][0]["doc_id"] == "sc"
    assert [c["rank"] for c in out["cases"]] == list(range(1, len(out["cases"]) + 1))
    assert {"field", "quote"} <= set(out["cases"][0]["matched_fields"][0])


@pytest.mark.parametrize(
    ("sentence", "history"),
    [
        ("Four days earlier he had sprayed a weedkiller without gloves.", True),
        ("She had taken a combined oral contraceptive pill for eight years.", True),
        ("Three weeks before admission a molar was extracted.", True),
        ("He had a history of gout.", True),
        ("He was treated with intravenous fluids for three days.", False),
        ("At three months his creatinine was normal.", False),
    ],
)
def test_the_history_cue_knows_what_came_before_the_illness(sentence, history):
    # The training cards' history sentences mostly tell an antecedent this way, without
    # the word "history" (stop 37: 58.5% of them match, against 11.3% before).
    assert bool(FIELD_CUES["history"].search(sentence)) is history


def test_the_field_model_learns_which_sentence_states_a_field_and_when_none_does():
    import numpy as np

    from rag.card_model import Case, fit

    rng = np.random.default_rng(0)
    cases = []
    for n in range(40):  # the field's own evidence (column 0) marks its sentence, if any
        own = rng.normal(size=(6, 1, 2))
        shared = rng.normal(size=(6, 3))
        stated = n % 4 != 0
        if stated:
            own[n % 6, 0, 0] += 4.0
        cases.append(Case(shared, own, {"treatment": [n % 6] if stated else []}))
    model = fit(cases[:30], ["treatment"], l2=0.001)
    picked = [model.choose(c.shared, c.own)["treatment"] for c in cases[30:]]
    wanted = [(c.answers["treatment"] or [None])[0] for c in cases[30:]]
    assert sum(p == w for p, w in zip(picked, wanted, strict=True)) >= 8
    assert model.own[0] > abs(model.own[1])


def test_each_field_can_have_its_own_margin_and_the_shipped_model_uses_them():
    import numpy as np

    from rag.card_model import Case, FieldModel, fit
    from rag.reader.train_fields import FIELD_MARGINS

    rng = np.random.default_rng(1)
    cases = [
        Case(rng.normal(size=(5, 2)), rng.normal(size=(5, 2, 2)), {"site": [0], "outcome": [1]})
        for _ in range(20)
    ]
    model = fit(cases, ["site", "outcome"], l2=0.01)
    case = cases[0]
    gap = model.scores(case.shared, case.own).max(axis=0) - model.none  # best over "none"
    model.margin = float(gap.max()) + 1.0  # one margin above both: both blank
    assert model.choose(case.shared, case.own) == {"site": None, "outcome": None}
    model.margin = [float(gap[0]) - 1.0, float(gap.max()) + 1.0]  # the site's own, lower
    chosen = model.choose(case.shared, case.own)
    assert chosen["site"] is not None and chosen["outcome"] is None

    shipped = FieldModel.load(_reader().model_path)
    each = np.broadcast_to(shipped.margin, len(shipped.fields))
    margins = dict(zip(shipped.fields, each, strict=True))
    assert all(margins[name] == margin for name, margin in FIELD_MARGINS.items())
    assert len(set(margins.values())) > 1  # the others share the cross-validated margin


def test_the_field_model_survives_saving(tmp_path):
    from rag.card_model import FieldModel

    shipped = FieldModel.load(_reader().model_path)
    shipped.save(tmp_path / "fields.json")
    again = FieldModel.load(tmp_path / "fields.json")
    shared, own = _reader().features(["He was treated with oral succimer.", "He was well."])
    assert again.choose(shared, own) == shipped.choose(shared, own)


def test_training_cards_quote_their_reports_verbatim():
    from rag.reader.train_fields import gold_cards, report_texts

    texts = report_texts()
    cards = gold_cards()
    assert len(cards) >= 100
    for card in cards:
        for name, field in card["fields"].items():
            assert field is None or field["quote"] in texts[card["doc_id"]], (card["doc_id"], name)


def test_a_card_field_is_right_on_any_sentence_the_gold_card_lists_for_it():
    """A card quotes one sentence a field; where the report states a field in several
    sentences (two treatments), the gold card lists the others under ``also``. The first
    gold quote alone is scored too, and a sentence the gold does not list is still wrong."""
    from rag.eval.cases import format_card_score, score_cards

    surgery = "He underwent an anterior C5-C6 discectomy and fusion."
    antibiotics = "He received intravenous ceftriaxone 2 g twice daily for six weeks."
    gold = [
        {
            "doc_id": "r1",
            "fields": {
                "treatment": {"quote": surgery, "also": [antibiotics]},
                "outcome": {"quote": "At six months he had returned to work."},
                "complications": None,
            },
        }
    ]
    card = CaseCard(
        "r1",
        "",
        fields={
            "treatment": CardField(None, antibiotics),
            "outcome": CardField(None, "He was discharged on day 19."),
            "complications": None,
        },
    )
    score = score_cards(gold, [card])
    assert (score.stated, score.correct, score.correct_first_quote) == (2, 1, 0)
    assert (score.unstated, score.filled) == (1, 0)
    assert score.by_field == {"treatment": [1, 1], "outcome": [0, 1]}
    assert "50.0% (1/2; on the first gold quote alone 0.0%, 0)" in format_card_score(score)
