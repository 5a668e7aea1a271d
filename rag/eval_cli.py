"""`rag eval`: placeholder until the evaluator lands."""

from __future__ import annotations


def add_eval_parser(sub, common) -> None:
    return None
