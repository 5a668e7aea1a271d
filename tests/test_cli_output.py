"""What the `rag` command prints: names that cannot forge lines, a quiet stderr, exit codes.

Each case runs the real command in a subprocess (real model, FAISS and SQLite), as a
maintainer would, on a corpus folder the test writes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures_builders import case_text

# A name with a newline could print a line of its own; this one would look like a report.
FORGING = "notes\nskipped forged.pdf: the PDF is encrypted\n.txt"
# A right-to-left override shows "report<U+202E>fdp.exe" as "reportexe.pdf".
REVERSED = "report\u202efdp.exe"


def rag(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, env=env
    )


def skipped_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("skipped ")]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(case_text(1), encoding="utf-8")
    (corpus / FORGING).write_bytes(b"")
    (corpus / REVERSED).write_bytes(b"")
    return root / "index", rag("index", str(corpus), "--index", str(root / "index"))


def test_file_names_cannot_forge_lines_or_reverse_text(indexed):
    _, out = indexed
    assert out.returncode == 0, out.stderr
    lines = skipped_lines(out.stdout)
    assert len(lines) == 2, out.stdout
    assert any(
        "notes\\nskipped forged.pdf: the PDF is encrypted\\n.txt: the file" in x for x in lines
    )
    assert any("report\\u202efdp.exe: unsupported format" in x for x in lines)
    assert "\u202e" not in out.stdout


def test_stderr_is_empty_when_all_goes_well_and_has_timings_with_v(indexed):
    index, out = indexed
    assert out.stderr == ""
    asked = rag("ask", "Who had a splenic abscess?", "--index", str(index))
    assert asked.returncode == 0 and asked.stderr == ""
    verbose = rag("ask", "Who had a splenic abscess?", "--index", str(index), "-v")
    assert "model and index loaded in" in verbose.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["ask", "anything", "--index", "/nonexistent/index"],
        ["status", "--index", "/nonexistent/index"],
        ["index", "/nonexistent/corpus", "--index", "/tmp/unused-index"],
    ],
)
def test_a_mistake_prints_exactly_one_error_line(args):
    out = rag(*args)
    assert out.returncode == 2
    assert len(out.stderr.splitlines()) == 1, out.stderr
    assert out.stderr.startswith("error: ")


def test_index_exits_nonzero_when_no_file_could_be_indexed(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "notes.docx").write_bytes(b"PK\x03\x04 word document")
    out = rag("index", str(corpus), "--index", str(tmp_path / "index"))
    assert out.returncode == 1
    assert len(skipped_lines(out.stdout)) == 2
    assert out.stderr.splitlines() == [
        "error: none of the 2 files could be indexed (see the reasons above)"
    ]
