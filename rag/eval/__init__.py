"""Evaluation and benchmark tooling, apart from the product (``rag eval``, ``rag bench``).

Imports point one way: the CLI and pages -> ``rag.eval`` -> pipeline -> store -> data
model; no product module imports ``rag.eval``.

- ``gold``: the project's JSONL gold sets and their passage judgements
- ``beir``: BEIR folders read (queries, qrels, corpus records as Documents)
- ``cache``: indexes built for evaluation under ``eval/cache/`` and reused while they match
- ``running``: a gold set or BEIR folder run through the Pipeline and scored
- ``metrics``: ranx metrics, latency percentiles, answers against gold
- ``results``: ``EvalResult``, saved and loaded as JSON
- ``machine``: settings, machine, commit and command behind a figure
- ``report``: failures, the console summary, Markdown reports and tables
- ``compare``: two results with paired significance tests
- ``cases``: case cards and similar cases against their gold
- ``ablations``: the retrieval steps table (``python -m rag.eval.ablations``)
- ``cli``: ``rag eval``
- ``bench``: performance benchmarks (``rag bench``, ``python -m rag.bench``)
- ``server``: ``streamlit run app.py`` on a free port, for benchmarks and browser tests
"""
