"""``python -m rag.bench`` (the README's and CI's command): the benchmarks live in
``rag.eval.bench``."""

from rag.errors import run_as_script
from rag.eval.bench.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    run_as_script(main, error_status=2)  # a user error: one line on stderr, status 2
