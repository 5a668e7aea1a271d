"""The answer reader: its training command, the shipped model, and abstention by threshold.

The hand-made examples below are in no gold set and no training set: each pairs the
sentence that answers with a sentence on the same topic that does not.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from rag.answer_types import expected_type, named_drugs
from rag.answering import ABSTAIN_TEXT, Answerer, confidence_words
from rag.config import Settings
from rag.documents import Chunk, Hit
from rag.query import Query
from rag.reader.model import log_odds, reader_for

SAME_TOPIC = [
    (
        "Which antibiotic was started for the cellulitis?",
        "Intravenous cefazolin was started for the cellulitis of the left leg.",
        "The cellulitis of the left leg had spread over two days before admission.",
    ),
    (
        "How was the tibial fracture fixed?",
        "The tibial fracture was fixed with an intramedullary nail on the second day.",
        "The tibial fracture was first seen on a radiograph in the emergency department.",
    ),
    (
        "What did the lumbar puncture show?",
        "The lumbar puncture showed a lymphocytic pleocytosis with a raised protein.",
        "A lumbar puncture was planned after the head CT had excluded a mass.",
    ),
    (
        "How long after surgery did the wound infection appear?",
        "A wound infection appeared nine days after the surgery.",
        "The surgery was performed through a midline incision under general anaesthesia.",
    ),
    (
        "Why was warfarin stopped?",
        "Warfarin was stopped because of a large retroperitoneal haematoma.",
        "Warfarin had been prescribed for atrial fibrillation for six years.",
    ),
    (
        "What was the patient's haemoglobin on admission?",
        "On admission her haemoglobin was 7.2 g/dL.",
        "She was admitted to the medical ward for further investigation of her anaemia.",
    ),
]


@pytest.mark.parametrize(("question", "answer", "near_miss"), SAME_TOPIC)
def test_shipped_reader_ranks_the_answer_above_a_same_topic_sentence(question, answer, near_miss):
    p_answer, p_near = reader_for().score(question, [answer, near_miss])
    assert p_answer > p_near


def _query(text: str) -> Query:
    return Query(text, text, None, expected_type(text), tuple(named_drugs(text)))


def _hit(text: str, rank: int = 1) -> Hit:
    return _doc_hit(text, "doc", rank)


def _doc_hit(text: str, doc_id: str, rank: int) -> Hit:
    chunk = Chunk(doc_id, rank, text, None, None, None, 0, len(text), 0, chunk_id=rank)
    return Hit(chunk=chunk, score=1.0 / rank, rank=rank)


# Questions that name their patient as a clinician does, each with the sentence that answers.
NAMED_PATIENT = [
    (
        "How long did the fever last in the boy with Kawasaki disease?",
        "His fever persisted for eleven days despite antipyretics.",
    ),
    (
        "What did the biopsy show in the elderly man with the scalp lesion?",
        "Biopsy showed a well-differentiated squamous cell carcinoma.",
    ),
    (
        "Where was the aneurysm in the 45-year-old woman with thunderclap headache?",
        "Angiography showed a 7 mm aneurysm at the anterior communicating artery.",
    ),
    (
        "What antibiotic was given to the diabetic woman with the foot abscess?",
        "Intravenous piperacillin-tazobactam 4.5 g three times daily was started.",
    ),
]


@pytest.mark.parametrize(("question", "answer"), NAMED_PATIENT)
def test_the_reader_reads_the_question_with_its_patient_named_plainly(question, answer):
    query = _query(question)
    assert query.reader_text.endswith("the patient?")
    assert query.reader_text.split()[:3] == question.split()[:3]  # what it asks is kept
    reader = reader_for()
    plain, named = reader.score(query.reader_text, [answer]), reader.score(question, [answer])
    assert plain[0] > named[0]  # the naming only draws the reader away from the answer
    settings = Settings(reader_similarity_weight=0.0).answering
    answer_given = Answerer(None, settings, reader=reader).answer(query, [_hit(answer)])
    assert answer_given.confidence == pytest.approx(float(plain[0]), abs=1e-4)


# Questions led by their topic, as a clinician types them, each with the sentence that answers.
TOPIC_LED = [
    (
        "Kawasaki disease in a toddler: how long did the fever last?",
        "His fever persisted for eleven days despite antipyretics.",
    ),
    (
        "Thunderclap headache, 45-year-old woman - where was the aneurysm?",
        "Angiography showed a 7 mm aneurysm at the anterior communicating artery.",
    ),
    (
        "diabetic foot abscess: which antibiotic was started?",
        "Intravenous piperacillin-tazobactam 4.5 g three times daily was started.",
    ),
]


@pytest.mark.parametrize(("question", "answer"), TOPIC_LED)
def test_the_reader_reads_a_topic_led_question_from_its_question_word(question, answer):
    query = _query(question)
    topic, _, asked = question.partition(": ") if ": " in question else question.partition(" - ")
    assert query.reader_text == asked and query.text == question  # retrieval reads it all
    reader = reader_for()
    read, whole = reader.score(query.reader_text, [answer]), reader.score(question, [answer])
    assert read[0] > whole[0]  # the topic only draws the reader away from the answer
    settings = Settings(reader_similarity_weight=0.0).answering
    answer_given = Answerer(None, settings, reader=reader).answer(query, [_hit(answer)])
    assert answer_given.confidence == pytest.approx(float(read[0]), abs=1e-4)


def test_a_question_that_asks_before_its_dash_keeps_its_subject():
    question = "How common is sarcoidosis in the general population - what is its incidence?"
    assert _query(question).reader_text == question


def test_abstention_follows_the_calibrated_threshold():
    reader = reader_for()
    question, answer, near_miss = SAME_TOPIC[0]
    hits = [_hit(f"{near_miss} {answer}")]
    best = float(reader.score(question, [answer, near_miss]).max())
    calibrated = Answerer(None, Settings(reader_threshold=0.0).answering, reader=reader)
    fitted = json.loads((reader.model_dir / "answering.json").read_text())
    assert calibrated.threshold == fitted["threshold"]
    assert calibrated.similarity_weight == fitted["similarity_weight"]

    def alone(threshold: float) -> Settings:  # the reader's ranking, no similarity weighed in
        return Settings(reader_threshold=threshold, reader_similarity_weight=0.0)

    above = Answerer(None, alone(best + 0.01).answering, reader=reader)
    abstained = above.answer(_query(question), hits)
    assert abstained.abstained and abstained.text == ABSTAIN_TEXT and not abstained.citations
    assert confidence_words(abstained) == "does not answer"

    below = Answerer(None, alone(best - 0.01).answering, reader=reader)
    answered = below.answer(_query(question), hits)
    assert not answered.abstained
    assert answered.citations[0].sentence == answer
    assert answered.confidence == pytest.approx(best, abs=1e-3)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The training command run for two steps on a tiny slice: (model folder, work folder)."""
    from rag.reader import train

    root = tmp_path_factory.mktemp("tiny_run")
    out, work = root / "model", root / "work"
    train.main(
        ["--limit", "30", "--max-steps", "2", "--batch", "4", "--out", str(out),
         "--work-dir", str(work), "--threads", "1"]
    )  # fmt: skip
    return out, work


def test_training_command_runs_a_few_steps_on_a_tiny_slice(tiny_run):
    out, _ = tiny_run
    report = json.loads((out / "training.json").read_text())
    assert report["steps"] == 2 and report["train_pairs"] == 8
    assert (out / "MODEL_CARD.md").read_text().count("validation") >= 1
    trained = reader_for(out)
    assert 0.0 <= trained.threshold <= 1.0
    assert trained.score("What was given?", ["Aspirin was given.", "It rained."]).shape == (2,)


def test_the_export_ships_the_better_int8_model_and_either_unpacks_to_the_weights(tiny_run):
    """Training exports the checkpoint to int8 twice, as it is and smoothed; the one whose
    best sentences answer more validation questions ships, and both dequantise back to
    the trained weights (a maintainer trains on from the shipped file)."""
    from safetensors.numpy import load_file

    from rag.reader.unpack import state_dict_from_onnx

    out, work = tiny_run
    report = json.loads((out / "training.json").read_text())
    tried = report["validation_int8_by_export"]
    assert set(tried) == {"plain", "smoothed"}
    chosen = report["int8_export"]
    assert tried[chosen]["top1"] == max(v["top1"] for v in tried.values())
    shipped = (out / "reader_qint8.onnx").read_bytes()
    assert shipped == (work / "checkpoint" / f"reader_{chosen}_qint8.onnx").read_bytes()
    trained = load_file(work / "checkpoint" / "model.safetensors")
    for name in ("plain", "smoothed"):
        unpacked = state_dict_from_onnx(work / "checkpoint" / f"reader_{name}_qint8.onnx")
        for layer in range(6):  # attention input, FFN input and FFN output of every layer
            for part in ("attention.self.query", "intermediate.dense", "output.dense"):
                key = f"bert.encoder.layer.{layer}.{part}.weight"
                error = np.linalg.norm(unpacked[key] - trained[key])
                # int8 rounding: a few percent; a smoothing scale left in: far more
                assert error < 0.05 * np.linalg.norm(trained[key])


def test_smoothing_moves_activation_ranges_into_the_weights_and_computes_the_same(tmp_path):
    """Each MatMul input of the bundled MiniLM divided by per-channel scales, its weight
    rows multiplied by them: the hidden states are unchanged in fp32."""
    import onnxruntime as ort
    from transformers import AutoModel

    from rag.config import bundled_model_dir
    from rag.embedding import trace_to_onnx
    from rag.reader.calibration import _feeds
    from rag.reader.data import Group
    from rag.reader.smoothing import activation_ranges, smooth

    base = bundled_model_dir()
    model = AutoModel.from_pretrained(str(base), attn_implementation="eager").eval()
    fp32, smoothed = tmp_path / "fp32.onnx", tmp_path / "smoothed.onnx"
    trace_to_onnx(model, "last_hidden_state", fp32)
    feeds = list(_feeds(base, [Group(str(i), q, [a, n]) for i, (q, a, n) in enumerate(SAME_TOPIC)]))
    before = activation_ranges(fp32, feeds)
    smooth(fp32, smoothed, before)
    after = activation_ranges(smoothed, feeds)
    assert len(after) == len(before) and all(k.endswith("_smoothed") for k in after)
    # alpha 0.5: each channel's range becomes the square root of its range times its
    # weight row's, so the outlier channels come down
    assert max(r.max() for r in after.values()) < max(r.max() for r in before.values()) / 2

    def hidden(path):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return np.concatenate([session.run(None, f)[0].reshape(-1) for f in feeds])

    assert np.allclose(hidden(smoothed), hidden(fp32), atol=1e-4)


def test_a_context_reader_trains_listwise_and_reads_the_sentence_before(tmp_path):
    from rag.reader import train

    out = tmp_path / "model"
    train.main(
        ["--limit", "30", "--max-steps", "2", "--batch", "16", "--loss", "listwise", "--context",
         "--out", str(out), "--work-dir", str(tmp_path / "work"), "--threads", "1"]
    )  # fmt: skip
    report = json.loads((out / "training.json").read_text())
    assert report["loss"] == "listwise" and report["context"] is True and report["steps"] == 2
    trained, shipped = reader_for(out), reader_for()
    assert trained.reads_context and not shipped.reads_context
    question, sentences = "What was her score?", ["At twelve months her score was 1."]
    before = ["She left hospital with a modified Rankin Scale score of 3."]
    assert trained.score(question, sentences, before) != trained.score(question, sentences)
    # A reader trained on sentences alone is given none: the same probability either way.
    assert shipped.score(question, sentences, before) == shipped.score(question, sentences)


def test_the_answerer_gives_each_candidate_the_sentence_before_it_in_its_passage():
    from rag.answering import Candidate, previous_sentences

    text = (
        "Case presentation\n"
        "She had a fever. Cultures grew Escherichia coli. She recovered.\nDiscussion"
    )
    hit = _hit(text)
    spans = [(text.index(s), text.index(s) + len(s)) for s in
             ("She had a fever.", "Cultures grew Escherichia coli.", "She recovered.")]  # fmt: skip
    got = previous_sentences([Candidate(hit, a, b) for a, b in spans])
    assert got == ["", "She had a fever.", "Cultures grew Escherichia coli."]


def test_an_index_without_sentence_vectors_still_answers(seed_corpus, tmp_path):
    from fixtures_builders import count_rows

    from rag.config import load_settings
    from rag.indexing import sync
    from rag.pipeline import Pipeline

    settings = load_settings(
        corpus_dir=seed_corpus, index_dir=tmp_path / "index", sentence_vectors=False
    )
    report = sync([seed_corpus], settings)
    assert (
        report.chunks > 0 and count_rows(settings.index_dir, "SELECT count(*) FROM sentences") == 0
    )
    for reader in (False, True):  # sentences are read from the passage text either way
        answer = Pipeline(settings.with_overrides(reader=reader)).ask(
            "Which suture closed the dural tear?", k=5
        )
        assert not answer.abstained or reader  # the reader may judge that none answers
        assert any("5-0 Prolene" in h.chunk.text for h in answer.hits)
        assert all(c.sentence in c.hit.chunk.text for c in answer.citations)


def test_confidence_words_say_what_judged_the_sentences(pipeline):
    question = "Which suture closed the dural tear?"
    assert pipeline.ask(question).judged_by == "reader"  # the default
    query, hits = pipeline.query(question), pipeline.search(question)
    off = Answerer(pipeline.embedder, Settings(reader=False).answering, pipeline.store)
    similarity = off.answer(query, hits)
    assert similarity.judged_by == "similarity"
    assert not similarity.abstained and confidence_words(similarity) == "closest match"
    settings = Settings(reader_threshold=0.0001).answering
    reader = Answerer(pipeline.embedder, settings, pipeline.store, reader_for())
    judged = reader.answer(query, hits)
    assert judged.judged_by == "reader"
    assert confidence_words(judged) in {"likely answers", "may answer"}


def test_written_case_reports_label_the_sentence_that_holds_the_answer(tmp_path):
    from rag.reader.data import load_groups

    report = {
        "id": "t-01",
        "text": "Case presentation\nA 40-year-old man had a cough. He was given oral "
        "amoxicillin for seven days.\n\nDiscussion\nOther reports used intravenous "
        "ceftriaxone for such patients.",
        "questions": [
            {"q": "Which antibiotic did he receive?", "answer": "oral amoxicillin"},
            {"q": "What was his oxygen saturation?", "answer": None},
            {"q": "Spans two sentences", "answer": "cough. He was"},
        ],
    }
    (tmp_path / "reports.jsonl").write_text(json.dumps(report) + "\n")
    answered, near_miss = load_groups(tmp_path)  # the straddling span has no clean label
    assert answered.sentences[min(answered.positives)].startswith("He was given oral")
    assert "Case presentation" not in " ".join(answered.sentences)  # headings stay apart
    assert answered.article == near_miss.article == "t-01"
    assert not near_miss.answerable and len(near_miss.sentences) == 3
    # Each sentence's context is the one before it in its paragraph, never across a heading.
    context = dict(zip(answered.sentences, answered.contexts, strict=True))
    assert context[answered.sentences[min(answered.positives)]] == "A 40-year-old man had a cough."
    assert context["A 40-year-old man had a cough."] == ""
    assert context["Other reports used intravenous ceftriaxone for such patients."] == ""


def test_written_reports_keep_their_side_of_the_split_as_more_are_written():
    from rag.reader.data import Group, split_by_hash

    def groups(n: int) -> list[Group]:
        return [Group(f"q{i}", "q", ["s"], set(), f"report-{i}") for i in range(n)]

    _, before = split_by_hash(groups(40), 0.2)
    _, after = split_by_hash(groups(80), 0.2)
    assert 0 < len(before) < 40
    assert {g.article for g in before} == {g.article for g in after if int(g.qid[1:]) < 40}


def test_calibration_fits_the_weight_that_leads_with_answers_and_caps_false_abstention():
    from rag.eval.calibrate import FALSE_ABSTENTION, PASSAGE_WEIGHTS, WEIGHTS, Outcome, fit

    grid = [(w, p) for w in WEIGHTS for p in PASSAGE_WEIGHTS]
    heavy = (WEIGHTS[3], PASSAGE_WEIGHTS[2])
    answerable = [
        Outcome(True, {w: w == heavy or n < 10 for w in grid}, best=0.01 * (n + 1))
        for n in range(40)
    ]
    unanswerable = [Outcome(False, dict.fromkeys(grid, False), best=0.02) for _ in range(10)]
    fitted = fit(answerable + unanswerable)
    assert (fitted["similarity_weight"], fitted["passage_weight"]) == heavy
    answered = sum(o.best >= fitted["threshold"] for o in answerable)
    assert len(answerable) - answered <= FALSE_ABSTENTION * len(answerable)
    assert fitted["validation"]["abstained"] == 1.0  # every near miss sits under the cut


def test_the_shipped_reader_unpacks_into_a_checkpoint_that_reads_alike(tmp_path):
    """A clone can train on from the shipped int8 reader: its dequantised weights rank
    each hand-made pair as the shipped model does, with close probabilities."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from rag.reader.mining import torch_scorer
    from rag.reader.model import MAX_TOKENS
    from rag.reader.unpack import checkpoint_from_onnx

    folder = checkpoint_from_onnx(reader_for().model_dir, tmp_path / "base")
    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    score = torch_scorer(model, AutoTokenizer.from_pretrained(str(folder)), MAX_TOKENS)
    for question, answer, near_miss in SAME_TOPIC:
        unpacked = score(question, [answer, near_miss])
        shipped = log_odds(reader_for().score(question, [answer, near_miss]))
        assert unpacked[0] > unpacked[1]
        # int8 activations move a log-odds by up to about 0.6; a weight put in the wrong
        # place moves it by several.
        assert np.abs(unpacked - shipped).max() < 1.0


def test_mining_keeps_the_answer_and_the_negatives_the_scorer_rates_highest():
    import random

    from rag.reader.data import Group
    from rag.reader.mining import mine

    question, answer, near_miss = SAME_TOPIC[1]
    others = [near_miss, "The patient lived alone.", "The fracture healed by four months."]
    group = Group("w0-1", question, [others[1], answer, others[0], others[2]], {1}, "w0", [""] * 4)
    probabilities = reader_for().score(question, group.sentences)
    (kept,) = mine([group], reader_for().score, hard=1, rand=0, rng=random.Random(0))
    negatives = [i for i in range(4) if i != 1]
    top = max(negatives, key=lambda i: probabilities[i])
    assert kept.sentences == [answer, group.sentences[top]] and kept.positives == {0}
    assert len(kept.contexts) == 2


def test_training_goes_on_from_the_shipped_reader_with_mined_negatives(tmp_path):
    from rag.reader import train

    out = tmp_path / "model"
    train.main(
        ["--base", str(reader_for().model_dir), "--mine", "2", "--limit", "12",
         "--max-steps", "1", "--batch", "8", "--sources", "case-reports", "--out", str(out),
         "--work-dir", str(tmp_path / "work"), "--threads", "1"]
    )  # fmt: skip
    report = json.loads((out / "training.json").read_text())
    assert report["mined"] == 2 and report["steps"] == 1
    assert (tmp_path / "work" / "base" / "config.json").exists()


# Two reports alike but for their figures, asked the same question: over both at once,
# the same sentence leads for both questions, so one of them would be wrong.
ALIKE_REPORTS = [
    {
        "id": f"alike-{n}",
        "text": f"A {age}-year-old woman was admitted with fever and weight loss. "
        f"Her erythrocyte sedimentation rate was {esr} mm/h. She recovered after treatment.",
        "questions": [{"q": "What was her sedimentation rate?", "answer": f"{esr} mm/h"}],
    }
    for n, (age, esr) in enumerate([(34, 74), (61, 12)])
]


def test_calibration_asks_each_validation_question_of_its_own_report(tmp_path):
    """Written reports come in families of alike cases and their questions often name no
    patient: each is asked of its own report, so the fit measures the reader, not which
    report retrieval guessed."""
    from rag.eval.calibrate import WEIGHTS, outcomes

    results = outcomes(tmp_path, ALIKE_REPORTS)
    assert len(results) == 2
    assert all(o.answerable and o.best > 0 for o in results)
    assert all(o.right[(w, 0.0)] for o in results for w in WEIGHTS)


def test_the_report_whose_passage_ranks_first_is_favoured_but_not_the_only_source():
    """Two like case reports both state an MRI finding; the question is about the patient
    of the report retrieved first. The reader alone is a little surer of the other one."""
    reader = reader_for()
    question = "What did the MRI show in the woman with the cervical myelopathy?"
    hers = "MRI demonstrated cord compression at C5-C6 with a high T2 signal."
    other = "MRI of the cervical spine showed severe canal stenosis at C3-C4 in the man."
    unrelated = "She was admitted to the neurosurgical ward for observation."

    def lead(bonus: float, first: str) -> str:
        settings = Settings(reader_similarity_weight=0.0, top_report_bonus=bonus).answering
        hits = [_doc_hit(first, "hers", 1), _doc_hit(other, "other", 2)]
        answer = Answerer(None, settings, reader=reader).answer(_query(question), hits)
        return answer.citations[0].sentence

    assert lead(0.0, hers) == other  # the reader alone leads with the other patient's MRI
    assert lead(Settings().answering.top_report_bonus, hers) == hers
    # A prior, not a filter: when her report holds nothing that answers, the other leads.
    assert lead(Settings().answering.top_report_bonus, unrelated) == other


def test_the_answer_quotes_further_down_the_top_report_but_answers_only_from_the_closest():
    """The report ranked first states vaguely in its first passage that treatment began,
    and names the drug in its sixth; a like sentence of another report ranks seventh.
    Read down to rank 8, the drug's sentence leads and its passage is shown; read to rank
    5, the vague one does. Whether to answer is judged on the first five passages, where
    the threshold was calibrated: when they hold nothing that answers, the sixth alone
    does not make it answer."""
    reader = reader_for()
    question = "Which antibiotic was started for the cellulitis?"
    answer = "Intravenous cefazolin was started for the cellulitis of the left leg."
    vague = "Treatment for the cellulitis was started on admission."
    filler = "The ward round took place in the morning."

    def hits_with(first: str) -> list[Hit]:
        hits = [_doc_hit(first, "hers", 1)]
        hits += [_doc_hit(filler, doc, rank) for rank, doc in enumerate("bcbc", start=2)]
        return hits + [
            _doc_hit(answer, "hers", 6),
            _doc_hit("Intravenous flucloxacillin was started for his cellulitis.", "b", 7),
        ]

    query = replace(_query(question), k=5)

    def ask(report_depth: int, hits: list[Hit]):
        settings = Settings(report_depth=report_depth, reader_similarity_weight=0.0).answering
        return Answerer(None, settings, reader=reader).answer(query, hits)

    hits = hits_with(vague)
    read = ask(8, hits)
    assert read.citations[0].sentence == answer
    assert [h.rank for h in read.hits] == [1, 2, 3, 4, 5, 6]  # the k asked for, and its source
    assert not any("flucloxacillin" in c.sentence for c in read.citations)
    unread = ask(5, hits)  # the first five passages only
    assert unread.citations[0].sentence == vague
    assert answer not in unread.text
    assert [h.rank for h in unread.hits] == [1, 2, 3, 4, 5]
    assert ask(8, hits_with(filler)).abstained
    for depth, ranks in ((8, [1, 2, 3, 4, 5, 6]), (5, [1, 2, 3, 4, 5])):
        answerer = Answerer(None, Settings(report_depth=depth).answering, reader=reader)
        assert [h.rank for h in answerer.read_passages(hits)] == ranks


def test_abstention_fit_keeps_the_share_withheld_and_weighs_in_the_span_score():
    """The span weight is chosen where the most near misses abstain, at the threshold that
    withholds as many answers as the previous confidence and threshold did."""
    from rag.eval.calibrate import Outcome, confidence, fit_abstention

    answerable = [Outcome(True, evidence=[(0.02 + 0.01 * n, 1.0)]) for n in range(40)]
    near_misses = [Outcome(False, evidence=[(0.3, -10.0)]) for _ in range(10)]
    fitted = fit_abstention(answerable + near_misses, (0.0, 0.05))
    weight, cut = fitted["abstain_span_weight"], float(log_odds(fitted["threshold"]))
    assert weight > 0  # the probability alone ranks every near miss above the cut
    assert sum(confidence(o, weight) < cut for o in answerable) == 3  # 0.02, 0.03, 0.04
    assert all(confidence(o, weight) < cut for o in near_misses)
