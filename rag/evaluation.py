"""Moved to ``rag.eval`` (split by job); kept for ``rag/scale.py`` until it imports
``rag.eval.machine.machine_info`` (remove this file then)."""

from rag.eval.machine import machine_info

__all__ = ["machine_info"]
