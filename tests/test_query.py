"""Abbreviations in questions are expanded with the definitions the corpus itself gives."""

from rag.query import QueryExpander, candidate_abbreviations


def test_candidate_abbreviations_need_two_capitals():
    assert candidate_abbreviations("Is SSc or CT or MRI better than a Scan? COPD, SSc") == [
        "SSc",
        "CT",
        "MRI",
        "COPD",
    ]


def test_expansion_uses_definitions_found_in_the_seed_corpus(pipeline):
    expander = QueryExpander(pipeline.store)
    expanded = expander.expand("Which antibodies were positive in SSc on CT and MRI?")
    assert "SSc (systemic sclerosis)" in expanded
    assert "CT (computed tomography)" in expanded
    # The seed corpus never defines MRI, so it stays as written.
    assert "MRI?" in expanded and "MRI (" not in expanded


def test_a_spelled_out_term_is_not_expanded_twice(pipeline):
    expander = QueryExpander(pipeline.store)
    question = "Does systemic sclerosis (SSc) cause calcinosis?"
    assert expander.expand(question) == question
