"""What every benchmark shares: where results go, SciFact, medians, memory, the machine."""

from __future__ import annotations

import os
import resource
import statistics
from pathlib import Path

import numpy as np

from rag.config import PROJECT_ROOT

BENCH_DIR = PROJECT_ROOT / "eval" / "bench"
SCIFACT = Path("/work/shared/benchmarks/scifact-dev")


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def median(values: list[float]) -> float:
    return round(float(statistics.median(values)), 4)


def pct(values_ms: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values_ms), q)), 2)


def resolve_device(device: str) -> str:
    """``auto`` means the GPU when torch sees one."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def machine() -> dict:
    from rag.eval.machine import machine_info

    return {**machine_info(), "loadavg": [round(x, 2) for x in os.getloadavg()]}
