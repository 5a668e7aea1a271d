"""``python -m rag.scale`` (the README's command): the scale runs live in ``rag.eval.scale``."""

from rag.errors import RagError
from rag.eval.scale import main

__all__ = ["main"]

if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except RagError as exc:
        raise SystemExit(f"error: {exc}") from exc
