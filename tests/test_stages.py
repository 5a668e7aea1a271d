"""Retrieval stages on hand-made candidates and hits, and a stage registered from here."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from rag.answer_types import expected_type
from rag.documents import Chunk, DocInfo, Hit
from rag.query import Filters, Query
from rag.stages import Candidates, register, stages_for, unregister
from rag.stages.fusion import RRF, ScoreFusion, rrf, score_fusion
from rag.stages.ordering import MMR, AnswerTypeOrder, mmr, stated_type_first


def _query(text: str = "What happened?", k: int = 3) -> Query:
    return Query(text, text, None, expected_type(text), (), "hybrid", k, Filters())


def _hit(chunk_id: int, text: str, score: float) -> Hit:
    chunk = Chunk("d", chunk_id, text, None, None, None, 0, len(text), 0, chunk_id=chunk_id)
    doc = DocInfo("d", "/d.txt", "", [], "", None)
    return Hit(chunk=chunk, score=score, rank=chunk_id, doc=doc)


def test_rrf_sums_weighted_reciprocal_ranks():
    fused = rrf([([1, 2, 3], 1.0), ([3, 1], 0.5)], k=10)
    assert fused[1] == pytest.approx(1 / 11 + 0.5 / 12)
    assert fused[3] == pytest.approx(1 / 13 + 0.5 / 11)
    assert fused[2] == pytest.approx(1 / 12)


def test_rrf_stage_orders_by_fused_score_and_skips_absent_rankings():
    c = Candidates(depth=10, rankings={"dense": [(7, 0.9), (8, 0.8)], "lexical": [(8, 3.0)]})
    c.weights = {"dense": 1.0, "lexical": 1.0}
    c = RRF(60)(_query(), c)
    assert c.order == [8, 7]  # 8 is found by both retrievers


def test_score_fusion_gives_a_missed_passage_the_floor_of_its_side():
    fused = score_fusion([(1, 0.8), (2, 0.4)], [(2, 10.0), (3, 5.0)], 1.0, 1.0)
    assert fused[2] == pytest.approx(0.5 + 1.0)
    assert fused[1] == pytest.approx(1.0 + 0.5)  # lexical missed it: its floor 5/10
    assert fused[3] == pytest.approx(0.5 + 0.5)  # dense missed it: its floor 0.4/0.8
    c = Candidates(depth=10, rankings={"dense": [(1, 0.8)], "lexical": [(3, 5.0)]})
    c.weights = {"dense": 1.0, "lexical": 0.0}
    assert ScoreFusion()(_query(), c).order == [1, 3]


def test_mmr_keeps_the_best_first_and_skips_a_near_copy():
    hits = [_hit(1, "a", 1.0), _hit(2, "b", 0.9), _hit(3, "c", 0.5)]
    vectors = np.array([[1.0, 0.0], [0.999, 0.045], [0.0, 1.0]], dtype=np.float32)
    chosen = mmr(hits, vectors, k=2, lam=0.5)
    assert [h.chunk.chunk_id for h in chosen] == [1, 3] and [h.rank for h in chosen] == [1, 2]
    c = Candidates(depth=10, hits=hits, vectors=vectors)
    assert [h.chunk.chunk_id for h in MMR(0.5, 20)(_query(k=2), c).hits] == [1, 3]
    assert [h.chunk.chunk_id for h in mmr(hits, vectors, k=3, lam=1.0)] == [1, 2, 3]


def test_answer_type_ordering_lifts_a_stated_age_among_the_best_only():
    hits = [
        _hit(1, "She fell at home.", 0.9),
        _hit(2, "A 57-year-old woman presented.", 0.8),
        _hit(3, "A 60-year-old man was reported.", 0.1),
    ]
    query = _query("How old was the patient?")
    moved = stated_type_first(query, hits, depth=2)
    assert [h.chunk.chunk_id for h in moved] == [2, 1, 3] and [h.rank for h in moved] == [1, 2, 3]
    assert stated_type_first(_query("Why did she fall?"), hits, 2) == hits
    c = AnswerTypeOrder(2)(query, Candidates(depth=10, hits=hits))
    assert c.hits[0].chunk.chunk_id == 2


@dataclass
class KeepOneDocument:
    """A toy stage: only passages of one document survive."""

    doc_id: str

    def __call__(self, query: Query, c: Candidates) -> Candidates:
        c.hits = [replace(h, rank=r) for r, h in enumerate(
            (h for h in c.hits if h.chunk.doc_id == self.doc_id), start=1)]  # fmt: skip
        return c


def test_a_stage_registered_from_a_test_file_runs_in_the_pipeline(seed_settings, pipeline):
    from rag.pipeline import Pipeline

    question = "How was the calcinosis treated?"
    before = pipeline.search(question, k=5)
    wanted = before[-1].chunk.doc_id
    register("keep_one", lambda s, r: KeepOneDocument(wanted), before="answer_types")
    try:
        names = [
            type(st).__name__ for st in stages_for(seed_settings.retrieval, _resources(pipeline))
        ]
        assert names.index("KeepOneDocument") == names.index("AnswerTypeOrder") - 1
        hits = Pipeline(seed_settings, pipeline.embedder).search(question, k=5)
    finally:
        unregister("keep_one")
    assert hits and {h.chunk.doc_id for h in hits} == {wanted}
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert "KeepOneDocument" not in [type(s).__name__ for s in pipeline.retriever.stages]


def _resources(pipeline):
    from rag.stages import Resources

    return Resources(pipeline.store, pipeline.embedder, pipeline.answerer.reader)
