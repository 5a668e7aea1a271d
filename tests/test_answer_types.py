"""Expected answer types and drug grounding, on their own and on the seed corpus."""

from __future__ import annotations

import pytest

from rag.answer_types import expected_type, named_analytes, named_drugs, named_procedures


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How old was the man with gouty tophi?", "age"),
        ("What dose of colchicine did he receive?", "dose"),
        ("How much blood was lost during surgery?", "amount"),
        ("What were the serum uric acid levels on admission?", "lab value"),
        ("What percentage of patients develop tophi?", "rate"),
        ("How common is gout in young women?", "rate"),
        ("What is the sensitivity of ultrasound for tophi?", "rate"),
        ("What is the annual risk of a flare?", "rate"),
        ("What mortality does the review quote?", "rate"),
        ("Which high-risk features were present?", None),
        ("How long did the fever last?", "duration"),
        ("How long was the hospital stay?", "duration"),
        ("How long was the patient in hospital?", "duration"),
        ("For how long was the drain left in?", "duration"),
        ("How long was the spleen on CT?", "size"),
        ("How large was the mass on MRI?", "size"),
        ("What was the size of the cyst?", "size"),
        ("How much of the canal did the mass fill?", "rate"),
        ("What power setting was used for the coagulation?", None),
        ("What power did her deltoids have?", "strength"),
        ("Which lumbar levels were decompressed?", "spinal level"),
        ("What lithium level was found on admission?", None),
        ("At what ALT level should the drug be stopped?", None),
        ("What Nurick grade did she have?", "grade"),
        ("How strong was his grip on examination?", "strength"),
        ("How many patients were reported?", "count"),
        ("What type of suture closed the fascia?", "suture"),
        ("How many sutures were placed?", "count"),
        ("Why was surgery delayed?", None),
        ("Did the lesion recur?", None),
        ("Are serum uric acid levels higher in men?", None),
        ("Is the prevalence of tophi increasing?", None),
    ],
)
def test_questions_get_the_answer_type_they_ask_for(question, kind):
    found = expected_type(question)
    assert (found.name if found else None) == kind


@pytest.mark.parametrize(
    ("question", "states", "does_not_state"),
    [
        ("How old was he?", "A 71-year-old man presented.", "An elderly man presented.14,15"),
        ("How long did it last?", "Pain lasted 2 weeks.", "A 57-year-old woman had pain."),
        ("How big was the cyst?", "It measured 3.2 x 2.1 cm.", "The cyst was large."),
        ("How much of the canal did it fill?", "It filled 65% of the canal.", "It was 4 mm."),
        ("What dose was given?", "He received 0.5 mg twice daily.", "He received colchicine."),
        ("Which levels were fused?", "Fusion spanned L4 to S1.", "Fusion was at two levels."),
        ("What grade was it?", "She was ASIA C on arrival.", "She was weak on arrival."),
        ("How strong were the deltoids?", "Deltoids were 4/5.", "Deltoids were weak."),
        ("How many patients had tophi?", "Only two patients had tophi.", "Tophi were seen.3,4"),
        ("Which suture was used?", "The fascia was closed with 2-0 Vicryl.", "It was closed."),
        # The other ways reports write them (stop 40): angles, shares, micrograms and
        # grays, an age as "the age of", minutes, a stage with a letter.
        ("How much did the curve correct?", "It corrected by 18 degrees.", "It corrected well."),
        ("How much did the angle increase?", "The angle rose to 23°.", "The angle rose again."),
        ("How much did the signal drop?", "It fell by about 60% at dissection.", "It fell."),
        ("What dose was given?", "It was given at 90 micrograms/kg.", "It was given twice."),
        ("What radiotherapy dose?", "He received 45 Gy in 25 fractions.", "He had radiotherapy."),
        ("At what age was it diagnosed?", "It was found at the age of 17.", "It was found late."),
        ("For how long was the cup on?", "It was on for 22 minutes.", "It came off twice."),
        ("What stage was the tumour?", "It was Masaoka-Koga stage IIA.", "It was removed whole."),
        ("How often is it missed?", "It is missed in about one third.", "It is often missed."),
        ("How common is it?", "It affects 1 in 3,700 births.", "It is rare."),
        ("How strong was her grip?", "Grip strength was 24 kg.", "Her grip was weaker."),
        ("How long did it take?", "It began two and a half hours later.", "It began later."),
        ("How long after did it recur?", "Fourteen months after, it recurred.", "It recurred."),
    ],
)
def test_a_sentence_states_the_type_or_not(question, states, does_not_state):
    kind = expected_type(question)
    assert kind.stated_in(states)
    assert not kind.stated_in(does_not_state)


@pytest.mark.parametrize(
    ("question", "states", "does_not_state"),
    [
        (
            "What dose of methotrexate was she given?",
            "Methotrexate 15 mg weekly was started with folic acid.",
            "Methotrexate was stopped when her liver enzymes rose to three times normal, and "
            "after a fortnight prednisolone 40 mg daily was started.",
        ),
        (
            "For how long was vancomycin continued?",
            "Vancomycin was continued for six weeks.",
            "Vancomycin was replaced by oral linezolid once the cultures and the sensitivities "
            "came back, and linezolid was continued for six weeks.",
        ),
    ],
)
def test_a_named_drugs_fact_must_stand_next_to_that_drug(question, states, does_not_state):
    kind, drugs = expected_type(question), tuple(named_drugs(question))
    assert kind.stated_in(states, drugs)
    assert kind.stated_in(does_not_state)  # the fact is there, for another drug
    assert not kind.stated_in(does_not_state, drugs)


def test_drug_names_are_found_by_their_stems_and_common_words_are_not():
    assert named_drugs("Is etanercept or methotrexate better than prednisolone?") == [
        "etanercept",
        "methotrexate",
        "prednisolone",
    ]
    assert named_drugs("Is the concept accepted, except for cholesterol and April?") == []
    asked = "Was bendamustine, cefazolin, metronidazole or levetiracetam given?"
    assert named_drugs(asked) == ["bendamustine", "cefazolin", "metronidazole", "levetiracetam"]
    assert named_drugs("Was the cephalic or cefalic vein used, and which ozone level?") == []
    unstemmed = "Was atropine, tranexamic acid, teriparatide or a statin given?"
    assert named_drugs(unstemmed) == ["atropine", "tranexamic", "teriparatide", "statin"]


def test_a_question_about_a_drug_no_passage_names_is_not_answered(pipeline):
    answer = pipeline.ask("Is etanercept effective for spinal calcinosis in scleroderma?")
    assert answer.abstained and not answer.citations
    assert answer.hits, "the closest passages are still shown"
    assert answer.reason == "None of the closest passages mentions etanercept."


def test_laboratory_analytes_are_found_by_their_names_and_abbreviations():
    assert named_analytes("Was the C-reactive protein or the ESR raised?") == ["CRP", "ESR"]
    assert named_analytes("What were her Hb, ALT and serum ferritin?") == [
        "haemoglobin",
        "ferritin",
        "ALT",
    ]
    assert named_analytes("Which antibiotic was given, and what did the CT show?") == []
    assert named_analytes("Was the alt text of the figure calcium-free?") == ["calcium"]


def test_tests_treatments_and_devices_are_found_by_their_names_not_look_alikes():
    asked = "Was she transfused, and did the DXA or the 24-hour urine collection show anything?"
    assert named_procedures(asked) == ["bone densitometry", "transfusion", "24-hour urine"]
    assert named_procedures("Was a lumbar CSF drain placed, or a halo vest worn?") == [
        "lumbar drain",
        "halo",
    ]
    # Red cells on a film are not a transfusion, nor a CSF leak a drain, nor a variant a gene.
    assert named_procedures("Were there fragmented red cells, a CSF leak or variant anatomy?") == []


@pytest.mark.parametrize(
    ("unnamed", "missing", "named", "present"),
    [
        (
            "What was the serum ferritin of the woman with cervical calcinosis?",
            "ferritin",
            "Was calcium metabolism normal in the woman with lumbar calcinosis?",
            "calcium",
        ),
        (  # the report names the rehabilitation the second question calls physiotherapy
            "Was the woman with lumbar calcinosis given radiotherapy?",
            "radiotherapy",
            "Did the woman with central cord syndrome have physiotherapy?",
            "physiotherapy",
        ),
    ],
    ids=["analyte", "procedure"],
)
def test_a_question_about_what_no_passage_names_is_not_answered(
    pipeline, unnamed, missing, named, present
):
    answer = pipeline.ask(unnamed)
    assert answer.abstained and answer.hits
    assert answer.reason == f"None of the closest passages mentions {missing}."
    assert pipeline.ask(named).reason != f"None of the closest passages mentions {present}."


def test_a_question_asking_for_an_age_is_answered_by_a_sentence_stating_one(pipeline):
    question = "How old was the woman whose calcinosis compressed a lumbar nerve root?"
    answer = pipeline.ask(question)
    assert not answer.abstained
    assert expected_type(question).stated_in(answer.citations[0].sentence)


def test_a_question_asking_which_suture_is_answered_by_the_sentence_naming_it(pipeline):
    # The README's example: the reader alone led with the dural rent, which names no suture.
    answer = pipeline.ask("Which suture closed the dural tear?")
    assert not answer.abstained
    assert "5-0 Prolene" in answer.citations[0].sentence


def test_a_question_asking_for_a_fact_no_passage_states_is_not_answered(pipeline):
    answer = pipeline.ask("What dose of the medication was given for the cervical calcinosis?")
    assert answer.abstained
    assert answer.reason == "None of the closest passages states a dose."
