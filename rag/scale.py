"""``python -m rag.scale`` (the README's command): the scale runs live in ``rag.eval.scale``."""

from rag.errors import run_as_script
from rag.eval.scale import main

__all__ = ["main"]

if __name__ == "__main__":
    run_as_script(main)
