from rag.errors import run_as_script
from rag.eval.bench.cli import main

run_as_script(main, error_status=2)  # a user error: one line on stderr, status 2
