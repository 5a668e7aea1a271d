"""``python -m rag.bench`` (the README's and CI's command): the benchmarks live in
``rag.eval.bench``."""

from rag.eval.bench.cli import main, run_as_script

__all__ = ["main"]

if __name__ == "__main__":
    run_as_script()
