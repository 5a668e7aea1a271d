"""``streamlit run app.py`` on a free localhost port, as a user starts it (tests, bench)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rag.config import PROJECT_ROOT
from rag.errors import RagError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_app(env: dict[str, str], log: IO[bytes], timeout_s: float = 60) -> Iterator[str]:
    """The app's URL once its health check answers; the server is always stopped after.

    ``env`` is added to this process's environment (``RAG_INDEX_DIR`` and the like);
    the server's output goes to ``log``, and its tail is in the error if it fails.
    """
    port = free_port()
    # The file watcher is off in .streamlit/config.toml, as users get it (not a flag here).
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    full_env = os.environ | {"HF_HUB_OFFLINE": "1"} | env
    proc = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        while True:
            if proc.poll() is not None:
                raise RagError(f"streamlit exited with {proc.returncode}:\n{_tail(log)}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r,
            ):
                if r.status == 200:
                    break
            if time.monotonic() - started > timeout_s:
                raise RagError(f"streamlit did not become healthy:\n{_tail(log)}")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _tail(log: IO[bytes]) -> str:
    """The end of the server's output, when ``log`` is a file we can read back."""
    name = getattr(log, "name", None)
    with contextlib.suppress(OSError, TypeError):
        log.flush()
        if isinstance(name, str) and Path(name).exists():
            return Path(name).read_text(errors="replace")[-3000:]
        log.seek(0)
        return log.read()[-3000:].decode(errors="replace")
    return ""
