"""CaseQA: local, cited question answering over medical case reports."""

from rag.errors import RagError

__all__ = ["RagError"]
