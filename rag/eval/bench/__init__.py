"""Benchmarks: CaseQA's own paths measured beside the bare libraries doing the same work.

    python -m rag.bench run --corpus scifact --limit 300   # indexing, latency, memory, app
    python -m rag.bench encode                             # backends x batch sizes
    python -m rag.bench ndcg --backends torch onnx-int8    # nDCG@10 on SciFact per backend
    python -m rag.bench report                             # eval/bench/RESULTS.md

Every figure is a median over repeats that alternate ours and bare in one run (the
machine is shared, so only figures taken side by side are compared), and each heavy
step runs in its own subprocess so its peak RSS is its own (``ru_maxrss``).

``run`` (indexing, latency, app start), ``children`` (one measurement per process),
``encoders`` (the bare libraries), ``encode`` (backends, nDCG per backend), ``report``
(RESULTS.md), ``cli`` (the options); ``rag bench`` and ``python -m rag.bench`` call
``cli.main``.
"""
