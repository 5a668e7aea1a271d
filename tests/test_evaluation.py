"""The evaluator: metrics against hand-worked values, the BEIR path end to end, compare.

Everything runs on the real model, FAISS and SQLite; toy corpora and questions are
written here (never benchmark questions).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.cli import main
from rag.documents import Answer, Chunk, Citation, Hit
from rag.errors import RagError
from rag.eval.compare import compare_results
from rag.eval.gold import MISSING, GoldQuestion, fold, load_gold, passage_id
from rag.eval.metrics import answer_metrics, best_hit_per_doc, ir_scores, ranked_run, score_answer
from rag.eval.results import EvalResult
from rag.eval.running import evaluate_gold

ROOT = Path(__file__).resolve().parent.parent


# -- IR metrics (ranx) against hand-worked values -----------------------------------------
def test_ir_metrics_match_hand_computed_values():
    qrels = {
        "q1": {"a": 1, "c": 1},
        "q2": {"q2": 1},  # the relevant document has the query's id (as in PubMedQA)
        "q3": {"r": 1},  # nothing retrieved at all
    }
    run = {"q1": ranked_run(["x", "a", "y", "c"]), "q2": ranked_run(["q2", "z"]), "q3": {}}
    means, per_query = ir_scores(qrels, run)
    # q1: relevant at ranks 2 and 4.
    #   DCG  = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677 = 1.061606
    #   IDCG = 1 + 1/log2(3) = 1.630930          -> nDCG@10 = 0.650921
    #   AP   = (1/2 + 2/4) / 2 = 0.5; RR = 1/2; recall@1 = 0; recall@5 = 1; hit@1 = 0
    # q2: relevant at rank 1 -> every metric 1.  q3: empty run -> every metric 0.
    assert per_query["ndcg@10"]["q1"] == pytest.approx(0.650921, abs=1e-6)
    assert per_query["map"]["q1"] == pytest.approx(0.5)
    assert per_query["ndcg@10"]["q2"] == pytest.approx(1.0)
    assert per_query["recall@100"]["q3"] == 0.0
    # Means over the three queries:
    assert means["ndcg@10"] == pytest.approx((0.650921 + 1 + 0) / 3, abs=1e-6)  # 0.550307
    assert means["recall@1"] == pytest.approx((0 + 1 + 0) / 3)
    assert means["recall@5"] == pytest.approx((1 + 1 + 0) / 3)
    assert means["mrr@10"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert means["map"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert means["hit_rate@1"] == pytest.approx(1 / 3)
    assert means["hit_rate@5"] == pytest.approx(2 / 3)


def test_documents_rank_at_their_best_chunk_and_identical_ids_are_kept():
    hits = [_hit("d2", 0, 1), _hit("q7", 3, 2), _hit("d2", 1, 3), _hit("d1", 0, 4)]
    ranking = [h.chunk.doc_id for h in best_hit_per_doc(hits)]
    assert ranking == ["d2", "q7", "d1"]
    # q7 is the query's own id: it stays, at rank 2 -> reciprocal rank 1/2.
    _, per_query = ir_scores({"q7": {"q7": 1}}, {"q7": ranked_run(ranking)})
    assert per_query["mrr@10"]["q7"] == pytest.approx(0.5)


# -- gold sets: relevance folding and answer metrics ------------------------------------
def test_fold_matches_across_dashes_whitespace_and_case():
    assert fold("Cord edema spanned C3–C6") == fold("cord  edema\nspanned C3-C6")
    assert fold("5‐0 PROLENE") == "5-0 prolene"
    q = GoldQuestion("x", "?", ["doc"], ["C3—C6"])
    assert q.passage_relevant("doc", "swelling from c3-c6 on MRI")
    assert not q.passage_relevant("other", "swelling from c3-c6 on MRI")  # wrong document
    assert not q.passage_relevant("doc", "swelling from C3 to C6")  # no substring
    assert GoldQuestion("y", "?", ["doc"]).passage_relevant("doc", "anything at all")


def test_answer_metrics_on_a_toy_gold_set():
    prolene = _hit("A", 0, 1, "The dura was closed with 5–0 Prolene. It held.")
    other = _hit("B", 0, 2, "Unrelated text about the shoulder.")
    levels = _hit("B", 1, 1, "Laminectomy levels were C4 to C7. The bone was soft.")
    gold = [
        GoldQuestion("q1", "suture?", ["A"], ["5-0 prolene"]),
        GoldQuestion("q2", "levels?", ["B"], ["C4 to C7"]),
        GoldQuestion("q3", "abstains?", ["A"], ["anything"]),
        GoldQuestion("u1", "unanswerable, abstains", [], [], answerable=False),
        GoldQuestion("u2", "unanswerable, answers", [], [], answerable=False),
    ]
    answers = [
        _answer([(prolene, 0, 37), (other, 0, 34)]),  # right first sentence; cites A and B
        _answer([(levels, 34, 52)]),  # wrong sentence, but from the relevant passage
        _answer([], abstained=True),
        _answer([], abstained=True),
        _answer([(other, 0, 34)]),
    ]
    rows = []
    for q, a in zip(gold, answers, strict=True):
        rows.append({"answerable": q.answerable, **score_answer(q, a)})
    assert [r["answer_correct"] for r in rows] == [1, 0, 0, None, None]
    m = answer_metrics(rows)
    # First cited sentence right: q1 only, of 3 answerable           -> 1/3
    # Citations of answerable questions: q1 (A relevant, B not), q2 (B passage holds
    # "C4 to C7": relevant)                                           -> 2/3
    # Answered: q1, q2 of 3 answerable                                -> 2/3
    # Abstained: q3 (answerable), u1 (unanswerable)                   -> precision 1/2
    # Unanswerable: u1 abstained, u2 answered                         -> recall 1/2
    assert m["answer_correct"] == pytest.approx(1 / 3)
    assert m["citation_precision"] == pytest.approx(2 / 3)
    assert m["answered_rate"] == pytest.approx(2 / 3)
    assert m["abstention_precision"] == pytest.approx(1 / 2)
    assert m["abstention_recall"] == pytest.approx(1 / 2)


def test_gold_loader_names_the_bad_line(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text(
        '{"id": "a", "question": "q?", "relevant": ["d"], "answerable": true}\n'
        '{"id": "b", "relevant": ["d"]}\n'
    )
    with pytest.raises(RagError, match=r"gold.jsonl:2"):
        load_gold(path)
    path.write_text('{"id": "a", "question": "q?", "relevant": [], "answerable": true}\n')
    with pytest.raises(RagError, match="needs its relevant documents"):
        load_gold(path)


def test_gold_set_on_the_seed_index(pipeline, seed_index, tmp_path):
    gold = [
        GoldQuestion("t1", "Which antinuclear antibody pattern did she have?",
                     ["001_3e401768c324d054"], ["nucleolar pattern"]),
        GoldQuestion("t2", "How strong were the deltoids on examination?",
                     ["000_6ed44de2d61d2162"], ["deltoids were 3/5"]),
        GoldQuestion("t3", "A question whose answer text is in no passage?",
                     ["002_f6f717ea5d56e4d5"], ["this phrase appears nowhere"]),
        GoldQuestion("u1", "What is the boiling point of liquid nitrogen?", [], [], False),
    ]  # fmt: skip
    result = evaluate_gold(pipeline, gold, "toy")
    # Oracle for passage relevance: every indexed chunk of the document holding the text.
    store = pipeline.store
    chunks = [
        c for c, _ in store.chunks(store.chunk_ids_for_docs(["001_3e401768c324d054"])).values()
    ]
    expected = {passage_id(c) for c in chunks if "nucleolar pattern" in c.text.lower()}
    assert expected and set(result.qrels["t1"]) == expected
    assert result.qrels["t3"] == {MISSING: 1}  # scored as a miss, and said so
    assert any("t3" in w for w in result.warnings)
    assert "u1" not in result.qrels  # unanswerable questions have no retrieval score
    # 22 chunks < depth 100: every passage is retrieved, so recall@100 is 1 for t1 and t2,
    # 0 for t3 -> mean 2/3.
    assert result.metrics["recall@100"] == pytest.approx(2 / 3)
    # The evaluator's answers are the app's answers.
    for q, row in zip(gold, result.questions, strict=True):
        assert row["answer"] == pipeline.ask(q.question).text
    assert result.metrics["latency_answer_p50_ms"] >= result.metrics["latency_retrieval_p50_ms"]
    saved = tmp_path / "r.json"
    result.save(saved)
    assert EvalResult.load(saved).metrics == result.metrics


# -- BEIR end to end, the cache, compare ---------------------------------------------------
TOY_CORPUS = [
    {"_id": "p1", "title": "", "text": "Aspirin reduces colorectal adenoma recurrence in trials."},
    {"_id": "d2", "title": "Warfarin", "text": "Warfarin increases major haemorrhage in elderly "
     "outpatients."},
    {"_id": "d3", "title": "Metformin", "text": "Metformin lowers fasting plasma glucose in type 2 "
     "diabetes mellitus."},
    {"_id": "d4", "title": "Vitamin D", "text": "Supplements did not prevent fractures in adults."},
    {"_id": "d5", "title": "Hand hygiene", "text": "Alcohol rub reduced infections on wards."},
]  # fmt: skip
TOY_QUERIES = [
    {"_id": "p1", "text": "aspirin colorectal adenoma"},  # same id as its document
    {"_id": "q2", "text": "warfarin haemorrhage elderly"},
    {"_id": "q3", "text": "medicine that controls sugar"},  # no word in common with d3
    {"_id": "q9", "text": "an unjudged query"},
]


@pytest.fixture(scope="module")
def toy_beir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("beir") / "toy"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in TOY_CORPUS) + "\n")
    (root / "queries.jsonl").write_text("\n".join(json.dumps(r) for r in TOY_QUERIES) + "\n")
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\np1\tp1\t1\nq2\td2\t1\nq2\td5\t0\nq3\td3\t1\n"
    )
    return root


def test_beir_loader(toy_beir, tmp_path):
    from rag.eval.beir import load_beir

    data = load_beir(toy_beir)
    assert data.split == "test"
    assert list(data.queries) == ["p1", "q2", "q3"]  # q9 is not judged
    assert data.qrels == {"p1": {"p1": 1}, "q2": {"d2": 1}, "q3": {"d3": 1}}  # score 0 dropped
    docs = list(data.documents())
    assert [d.doc_id for d in docs] == ["p1", "d2", "d3", "d4", "d5"]
    assert docs[1].title == "Warfarin" and docs[1].sections[0].heading is None
    (toy_beir / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n")
    try:
        with pytest.raises(RagError, match="choose one with --split"):
            load_beir(toy_beir)
    finally:
        (toy_beir / "qrels" / "dev.tsv").unlink()


@pytest.fixture(scope="module")
def toy_runs(toy_beir, tmp_path_factory):
    """Dense and lexical runs of `rag eval --beir` on the toy folder, through the CLI."""
    out = tmp_path_factory.mktemp("runs")
    cache = out / "cache"
    outputs = {}
    for mode in ("dense", "lexical"):
        code = main(
            ["eval", "--beir", str(toy_beir), "--mode", mode, "--cache", str(cache),
             "--json", str(out / f"{mode}.json"), "--trec", str(out / f"{mode}.trec"),
             "--report", str(out / f"{mode}.md")]
        )  # fmt: skip
        assert code == 0
        outputs[mode] = EvalResult.load(out / f"{mode}.json")
    return out, cache, outputs


def test_beir_eval_end_to_end(toy_runs, capsys):
    out, cache, results = toy_runs
    dense, lexical = results["dense"], results["lexical"]
    # Dense returns every chunk of a 5-document corpus: each relevant document is in the
    # top 5 -> recall@5 = 1.
    assert dense.metrics["recall@5"] == 1.0
    assert {r["id"]: r["documents_retrieved"] for r in dense.questions} == {
        "p1": 5, "q2": 5, "q3": 5,
    }  # fmt: skip
    # Lexical: p1 and q2 share words only with their own document (rank 1); q3 shares
    # none with any document (nothing retrieved) -> nDCG@10 = MRR@10 = recall@1 = 2/3.
    assert lexical.run["p1"] == ["p1"]
    assert lexical.run["q3"] == []
    for metric in ("ndcg@10", "mrr@10", "recall@1", "recall@100"):
        assert lexical.metrics[metric] == pytest.approx(2 / 3)
    assert lexical.config["settings"]["mode"] == "lexical"
    assert (out / "lexical.md").read_text().startswith("# Evaluation: toy")
    trec = (out / "lexical.trec").read_text().split("\n")
    assert trec[0].split()[:5] == ["p1", "Q0", "p1", "1", "1.0"]
    capsys.readouterr()
    assert main(["eval", "--table", str(out / "dense.json"), str(out / "lexical.json")]) == 0
    table = capsys.readouterr().out
    assert "| toy | lexical | 3 | 0.6667 |" in table  # nDCG@10 right after the counts


def test_beir_index_is_cached(toy_runs, toy_beir, capsys):
    _, cache, _ = toy_runs
    assert len(list(cache.iterdir())) == 1  # both modes used one index
    capsys.readouterr()
    assert main(["eval", "--beir", str(toy_beir), "--cache", str(cache), "--limit", "1"]) == 0
    err = capsys.readouterr().err
    assert "embedding" not in err  # opened, not rebuilt
    main(["eval", "--beir", str(toy_beir), "--cache", str(cache), "--chunk-tokens", "64", "-q"])
    assert len(list(cache.iterdir())) == 2  # other chunking, other index


def test_compare_prints_deltas_significance_and_moved_questions(toy_runs, capsys):
    out, _, _ = toy_runs
    capsys.readouterr()
    assert main(["eval", "--compare", str(out / "dense.json"), str(out / "lexical.json")]) == 0
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if x.startswith("recall@5 "))
    # recall@5 per query: dense 1, 1, 1; lexical 1, 1, 0 -> differences 0, 0, -1.
    # Paired t: mean -1/3, sd sqrt(1/3), se 1/3, t = -1, df 2
    #   -> p = 2 * (1 - (1/2 + 1 / (2 * sqrt(3)))) = 0.4226: not significant.
    assert line.split()[1:5] == ["1.0000", "0.6667", "-0.3333", "0.4226"]
    assert "*" not in line
    assert "worse in B on ndcg@10:" in text
    worse = text.split("worse in B on ndcg@10:")[1]
    assert " q3 " in worse and " p1 " not in worse


def test_compare_falls_back_to_stored_scores_when_qrels_differ():
    def result(qrels, scores):
        rows = [{"id": q, "question": q, "scores": {"ndcg@10": s}} for q, s in scores.items()]
        return EvalResult("beir", "toy", {"settings": {"mode": "hybrid"}},
                          {"ndcg@10": sum(scores.values()) / 3}, {}, rows, qrels, {})  # fmt: skip

    a = result({"q1": {"x#0": 1}}, {"q1": 0.5, "q2": 1.0, "q3": 0.0})
    b = result({"q1": {"x#1": 1}}, {"q1": 1.0, "q2": 1.0, "q3": 0.5})
    c = compare_results(a, b, by="ndcg@10")
    row = c.rows[0]
    # Differences 0.5, 0, 0.5: mean 1/3, sd sqrt(1/12), se 1/6, t = 2, df 2
    #   -> p = 2 * (1 - (1/2 + 2 / (2 * sqrt(6)))) = 0.1835
    assert (row.metric, row.n) == ("ndcg@10", 3)
    assert row.delta == pytest.approx(1 / 3)
    assert row.p_value == pytest.approx(0.183503, abs=1e-5)
    assert any("qrels differ" in n for n in c.notes)
    assert [d.id for d in c.better] == ["q1", "q3"] and c.worse == []


def test_eval_needs_exactly_one_question_source(capsys, toy_beir):
    assert main(["eval"]) == 2
    assert "give a gold set" in capsys.readouterr().err
    assert main(["eval", "x.jsonl", "--beir", str(toy_beir)]) == 2


# -- helpers ------------------------------------------------------------------------------
def _hit(doc_id: str, ordinal: int, rank: int, text: str = "text") -> Hit:
    chunk = Chunk(doc_id, ordinal, text, None, None, None, 0, len(text), 5, chunk_id=rank)
    return Hit(chunk=chunk, score=1.0 / rank, rank=rank)


def _answer(cited: list[tuple[Hit, int, int]], abstained: bool = False) -> Answer:
    citations = [
        Citation(n, hit, hit.chunk.text[a:b], a, b) for n, (hit, a, b) in enumerate(cited, 1)
    ]
    return Answer("q", "", abstained, 0.5, citations, [c.hit for c in citations])


# -- the app page ---------------------------------------------------------------------------
def _evaluation_page():
    from rag.ui.evaluation_page import render

    render()


def test_evaluation_page_runs_a_gold_set(seed_settings, seed_index, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    gold = tmp_path / "page.jsonl"
    gold.write_text(
        json.dumps({"id": "p1", "question": "How strong were the deltoids on examination?",
                    "relevant": ["000_6ed44de2d61d2162"], "answer_contains": ["deltoids were 3/5"],
                    "answerable": True}) + "\n"
        + json.dumps({"id": "p2", "question": "A question whose answer text is in no passage?",
                      "relevant": ["002_f6f717ea5d56e4d5"], "answer_contains": ["appears nowhere"],
                      "answerable": True}) + "\n"
    )  # fmt: skip
    monkeypatch.setenv("RAG_INDEX_DIR", str(seed_settings.index_dir))
    at = AppTest.from_function(_evaluation_page, default_timeout=180).run()
    at.selectbox[0].select("Another file…").run()
    at.text_input[0].input(str(gold)).run()
    next(b for b in at.button if b.label == "Run evaluation").click().run()
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    # p1's passage is retrieved (22 chunks, all within depth 100); p2 has no relevant passage.
    assert shown["ndcg@10"] != "" and "recall@10" in shown
    fails = at.dataframe[-1].value
    assert "p2" in set(fails["id"])  # the failed question is listed with what came instead
    assert any("p2" in w.value for w in at.warning)


def test_eval_options_reach_the_settings():
    from rag.cli import build_parser
    from rag.eval.cli import eval_settings

    args = build_parser().parse_args(
        ["eval", "gold.jsonl", "--backend", "torch", "--mode", "dense", "--set", "title_weight=2"]
    )
    settings = eval_settings(args)
    assert (settings.backend, settings.mode, settings.title_weight) == ("torch", "dense", 2.0)


def test_ablation_table_scores_each_configuration_once(toy_beir, seed_corpus, tmp_path):
    from rag.eval import ablations

    gold = tmp_path / "gold.jsonl"
    lines = (ROOT / "eval" / "seed_gold.jsonl").read_text().splitlines()[:3]
    gold.write_text("\n".join(lines) + "\n")
    out, table = tmp_path / "out", tmp_path / "ablations.md"
    argv = ["--beir", str(toy_beir), "--gold", str(gold), "--corpus", str(seed_corpus),
            "--cache", str(tmp_path / "cache"), "--out", str(out), "--table", str(table),
            "--only", "lexical only"]  # fmt: skip
    assert ablations.main(argv) == 0
    rows = {r.split(" | ")[0].strip("| "): r for r in table.read_text().splitlines()[2:]}
    assert list(rows) == ["default", "lexical only"]
    # Lexical on the toy folder: nDCG@10 2/3 (see test_beir_eval_end_to_end).
    assert "| --set mode=lexical | 0.6667 |" in rows["lexical only"]
    kept = sorted(p.stat().st_mtime_ns for p in out.iterdir())
    assert len(kept) == 4  # BEIR and gold results of both configurations
    assert ablations.main(argv) == 0
    assert sorted(p.stat().st_mtime_ns for p in out.iterdir()) == kept  # not scored again
    with pytest.raises(SystemExit):
        ablations.main([*argv[:-1], "no such configuration"])
    # One loaded model serves every configuration, so none may change the model.
    assert not any({"model", "backend", "device"} & set(c) for c in ablations.CONFIGS.values())
