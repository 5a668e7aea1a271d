"""Where and with what code a figure was taken: settings, machine, commit, command."""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

from rag.config import PROJECT_ROOT, Settings


def run_config(settings: Settings, **extra) -> dict:
    """The settings, where and with what code it ran: enough to reproduce a figure."""
    return {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in settings.flat().items()},
        **extra,
        "machine": machine_info(),
        "code": code_version(),
        "command": shlex.join(["rag", *sys.argv[1:]]) if _ran_as_cli() else "",
    }


def _ran_as_cli() -> bool:
    return Path(sys.argv[0]).name in ("rag", "cli.py") and "eval" in sys.argv[1:]


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    torch = sys.modules.get("torch")
    return {
        "cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads() if torch else None,
        # Latency is only comparable between runs on an otherwise idle machine.
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def code_version() -> dict:
    def git(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
            )
            return out.stdout.strip() if out.returncode == 0 else ""
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "rag")),
    }
