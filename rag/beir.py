"""Moved to ``rag.eval.beir`` and ``rag.eval.cache``; kept for ``rag/scale.py`` until it
imports from there (remove this file then)."""

from rag.eval.beir import load_beir
from rag.eval.cache import cached_index

__all__ = ["cached_index", "load_beir"]
