from rag.eval.bench.cli import run_as_script

run_as_script()
