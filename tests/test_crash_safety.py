"""Crash safety: SIGKILL of `rag index` at any moment leaves the previous index whole.

The kill test runs the real `rag index` command as a subprocess and kills it at random
moments: half drawn uniformly over a whole sync's measured duration, half over the part
where it holds the write lock (from the moment the lock file names its pid). After each
kill the index must be consistent (see ``index_problems``), hold exactly the previous or
exactly the new corpus, and the next sync must complete. Light syncs (removals and
renames: no model needed) keep most kills cheap; heavy syncs (new and changed files:
the model loads and embeds) cover the embedding path.

Random moments rarely land inside a sub-millisecond window, so a second test kills the
process exactly before and after each step of the commit (writing the FAISS file,
fsync, rename, the SQLite COMMIT, removing old files), through hooks that a
``sitecustomize`` module installs in the subprocess: whatever order those steps come in,
a kill between two of them must not break the index.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fixtures_builders import case_text, index_problems, write_cases

from rag.config import load_settings
from rag.embedding import Embedder
from rag.errors import RagError
from rag.indexing import sync
from rag.ingest import sha256
from rag.staging import index_spec
from rag.store import Store, Writer

KILLS_LIGHT = 40
KILLS_HEAVY = 12
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def rag_index_command(corpus: Path, index: Path) -> list[str]:
    """The installed `rag` console script (as users run it), else the same entry point."""
    script = Path(sys.executable).with_name("rag")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "rag.cli"]
    return [*head, "index", str(corpus), "--index", str(index)]


def corpus_hashes(corpus: Path) -> frozenset[str]:
    return frozenset(sha256(f.read_bytes()) for f in corpus.iterdir() if f.is_file())


def indexed_hashes(index: Path) -> frozenset[str]:
    with sqlite3.connect(index / "catalog.sqlite") as db:
        return frozenset(r[0] for r in db.execute("SELECT sha256 FROM documents"))


def generation(index: Path) -> int:
    with sqlite3.connect(index / "catalog.sqlite") as db:
        row = db.execute("SELECT value FROM manifest WHERE key='generation'").fetchone()
    return int(row[0]) if row else 0


class Corpus:
    """A small corpus that each round changes a little (never below three files)."""

    def __init__(self, folder: Path, rng: random.Random):
        self.folder, self.rng, self.next = folder, rng, 100
        write_cases(folder, range(6))

    def files(self) -> list[Path]:
        return sorted(self.folder.iterdir())

    def light(self) -> None:
        """Remove one file and rename another: a sync that needs no embedding."""
        files = self.files()
        if len(files) > 3:
            self.rng.choice(files).unlink()
            files = self.files()
        victim = self.rng.choice(files)
        victim.rename(self.folder / f"renamed_{self.next:03d}.txt")
        self.next += 1

    def heavy(self) -> None:
        """Add a file and change another (and remove one when there are many)."""
        write_cases(self.folder, [self.next])
        self.rng.choice(self.files()).write_text(case_text(self.next + 1), encoding="utf-8")
        self.next += 2
        if len(self.files()) > 7:
            self.rng.choice(self.files()).unlink()


def wait_for_lock(proc: subprocess.Popen, index: Path) -> None:
    """Until the process holds the write lock (the lock file names it) or has exited."""
    lock, mine = index / "write.lock", f"pid {proc.pid}"
    while proc.poll() is None:
        try:
            if lock.read_text() == mine:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.0005)


def kill_at_random_moment(
    cmd: list[str], index: Path, rng: random.Random, timing: tuple[float, float], locked: bool
) -> bool:
    """Start `rag index`, SIGKILL it at a random moment; True if it was still running.

    ``timing`` is (whole run, time holding the lock) of a measured run of the same kind;
    ``locked`` draws the moment over the second, counted from when the lock is taken.
    """
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if locked:
            wait_for_lock(proc, index)
            time.sleep(rng.uniform(0, timing[1]))
        else:
            time.sleep(rng.uniform(0, timing[0]))
        running = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
        proc.stderr.close()
    return running and proc.returncode == -signal.SIGKILL


def timed_run(cmd: list[str], index: Path) -> tuple[float, float]:
    """Run `rag index` to the end: (seconds in all, seconds from taking the lock)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_lock(proc, index)
    locked = time.perf_counter()
    out, err = proc.communicate()
    assert proc.returncode == 0, err.decode()
    ended = time.perf_counter()
    return ended - started, ended - locked


def test_sigkill_at_random_moments_never_breaks_the_index(tmp_path, capsys):
    seed = int(os.environ.get("CASEQA_KILL_SEED", "20240611"))
    rng = random.Random(seed)
    corpus = Corpus(tmp_path / "corpus", rng)
    index = tmp_path / "index"
    settings = load_settings(corpus_dir=corpus.folder, index_dir=index)
    embedder = Embedder(settings.model_path)
    cmd = rag_index_command(corpus.folder, index)
    started = time.perf_counter()
    timed_run(cmd, index)  # the first build
    corpus.heavy()
    heavy = timed_run(cmd, index)
    corpus.light()
    light = timed_run(cmd, index)
    assert index_problems(index) == []

    plan = [("light", i % 2 == 0) for i in range(KILLS_LIGHT)]
    plan += [("heavy", i % 2 == 0) for i in range(KILLS_HEAVY)]
    rng.shuffle(plan)
    landed, attempts = 0, 0
    while plan:
        kind, locked = plan[0]
        attempts += 1
        assert attempts <= 3 * (KILLS_LIGHT + KILLS_HEAVY), "kills keep missing the process"
        before = indexed_hashes(index)
        if kind == "heavy":
            corpus.heavy()
        else:
            corpus.light()
        after = corpus_hashes(corpus.folder)
        timing = heavy if kind == "heavy" else light
        if kill_at_random_moment(cmd, index, rng, timing, locked):
            landed += 1
            plan.pop(0)
        where = f"after kill {landed} ({kind}, {'locked' if locked else 'whole run'})"
        # The previous index is usable and consistent, and it is all old or all new.
        assert index_problems(index) == [], where
        assert indexed_hashes(index) in (before, after), where
        store = Store(index, expected=index_spec(settings.index))
        vector = embedder.encode(["a patient who recovered"])[0]
        assert store.dense_search(vector, 3), where
        store.close()
        # The next run is not blocked by the dead writer and completes.
        sync([corpus.folder], settings, embedder=embedder)
        assert index_problems(index) == [] and indexed_hashes(index) == after, where
        assert not list(index.glob("vectors.*.tmp")), where
    # A final real `rag index` run after all that.
    corpus.heavy()
    timed_run(cmd, index)
    assert index_problems(index) == [] and indexed_hashes(index) == corpus_hashes(corpus.folder)
    with capsys.disabled():
        print(
            f"\n[kill test] seed {seed}: {landed} SIGKILLs landed in {attempts} runs "
            f"(light sync {light[0]:.2f} s, {light[1]:.2f} s locked; heavy {heavy[0]:.2f} s, "
            f"{heavy[1]:.2f} s locked), 0 inconsistencies, "
            f"{time.perf_counter() - started:.0f} s in all"
        )
    assert landed >= 50


# Installed in the `rag index` subprocess: SIGKILL itself before or after one step.
KILL_HOOKS = """
import os, signal, sqlite3

point = os.environ.get("CASEQA_KILL_AT", "")
name, _, when = point.partition(":")


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


def _wrap(module, attr):
    original = getattr(module, attr)

    def wrapper(*args, **kwargs):
        if name == attr and when == "before":
            _die()
        result = original(*args, **kwargs)
        if name == attr and when == "after":
            _die()
        return result

    setattr(module, attr, wrapper)


class _Connection(sqlite3.Connection):
    def execute(self, sql, *args):
        commit = sql.strip().upper() == "COMMIT"
        if commit and name == "COMMIT" and when == "before":
            _die()
        result = super().execute(sql, *args)
        if commit and name == "COMMIT" and when == "after":
            _die()
        return result


if point:
    import faiss

    _wrap(faiss, "write_index")
    for _attr in ("fsync", "replace", "unlink"):
        _wrap(os, _attr)
    _connect = sqlite3.connect
    sqlite3.connect = lambda *a, **k: _connect(*a, factory=_Connection, **k)
"""
STEPS = ["write_index", "fsync", "replace", "COMMIT", "unlink"]


def test_sigkill_before_and_after_each_commit_step(tmp_path):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(KILL_HOOKS)
    rng = random.Random(7)
    corpus = Corpus(tmp_path / "corpus", rng)
    index = tmp_path / "index"
    settings = load_settings(corpus_dir=corpus.folder, index_dir=index)
    embedder = Embedder(settings.model_path)
    cmd = rag_index_command(corpus.folder, index)
    sync([corpus.folder], settings, embedder=embedder)
    sync([corpus.folder], settings, embedder=embedder)  # an old generation to clean up later
    points = [(f"{step}:{when}", "light") for step in STEPS for when in ("before", "after")]
    points += [("COMMIT:before", "heavy"), ("COMMIT:after", "heavy")]
    path = os.pathsep.join(x for x in (str(hooks), os.environ.get("PYTHONPATH")) if x)
    for point, kind in points:
        before = indexed_hashes(index)
        if kind == "heavy":
            corpus.heavy()
        else:
            corpus.light()
        after = corpus_hashes(corpus.folder)
        env = {**ENV, "PYTHONPATH": path, "CASEQA_KILL_AT": point}
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert done.returncode == -signal.SIGKILL, f"{point} never reached: {done.stderr}"
        assert index_problems(index) == [], point
        assert indexed_hashes(index) in (before, after), point
        sync([corpus.folder], settings, embedder=embedder)
        assert index_problems(index) == [] and indexed_hashes(index) == after, point


def test_a_second_writer_gets_a_clear_error(tmp_path):
    write_cases(tmp_path / "corpus", range(2))
    settings = load_settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    with Writer(settings.index_dir, index_spec(settings.index)):
        with pytest.raises(RagError, match=rf"being written by pid {os.getpid()}; wait"):
            Writer(settings.index_dir, index_spec(settings.index))
        done = subprocess.run(
            rag_index_command(settings.corpus_dir, settings.index_dir),
            env=ENV,
            capture_output=True,
            text=True,
        )
    assert done.returncode == 2
    assert f"is being written by pid {os.getpid()}; wait for it to finish" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_writer_asked_to_wait_gets_the_lock_when_the_other_finishes(tmp_path):
    settings = load_settings(index_dir=tmp_path / "index")
    spec = index_spec(settings.index)
    first = Writer(settings.index_dir, spec)
    threading.Timer(0.5, first.close).start()
    started = time.monotonic()
    with Writer(settings.index_dir, spec, wait=30) as second:
        assert second.generation == 0
    assert time.monotonic() - started >= 0.4  # it waited for the first to let go
    with Writer(settings.index_dir, spec):  # and let go itself
        pass


def test_a_killed_writers_lock_does_not_block_the_next(tmp_path):
    settings = load_settings(corpus_dir=tmp_path, index_dir=tmp_path / "index")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from rag.store import Writer;"
            "from rag.config import load_settings; from rag.staging import index_spec;"
            "s = load_settings(index_dir=Path(sys.argv[1]));"
            "w = Writer(s.index_dir, index_spec(s.index)); print('locked', flush=True);"
            "time.sleep(120)",
            str(settings.index_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RagError, match=f"being written by pid {holder.pid}"):
            Writer(settings.index_dir, index_spec(settings.index))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
    with Writer(settings.index_dir, index_spec(settings.index)) as writer:
        assert writer.generation == 0


def test_readers_keep_serving_during_a_reindex_and_then_see_the_new_generation(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write_cases(corpus, range(4))
    settings = load_settings(corpus_dir=corpus, index_dir=index)
    embedder = Embedder(settings.model_path)
    sync([corpus], settings, embedder=embedder)
    store = Store(index)
    first = store.generation
    query = embedder.encode(["a welder with blurred vision had a vitrectomy"])[0]

    write_cases(corpus, range(4, 12))
    (corpus / "case_000.txt").unlink()
    errors: list[BaseException] = []
    writer = threading.Thread(
        target=lambda: sync([corpus], settings, embedder=embedder), name="reindex"
    )
    answered = 0
    writer.start()
    while writer.is_alive() or answered == 0:
        try:
            hits = store.dense_search(query, 5)
            rows = store.chunks(i for i, _ in hits)
            assert hits and rows, "a reader got nothing during the re-index"
            store.lexical_search(["vitrectomy"], 5)
            answered += 1
        except BaseException as exc:  # noqa: BLE001 (collected and reported below)
            errors.append(exc)
            break
    writer.join()
    assert errors == []
    # No explicit refresh: the next query notices the committed generation by itself.
    hits = store.dense_search(query, 20)
    assert store.generation > first and store.stats()["documents"] == 11
    found = {row[1].doc_id for row in store.chunks(i for i, _ in hits).values()}
    assert "case_005" in found and "case_000" not in found
    assert store.faiss_ids() == set(store.chunks(range(1, 1000)))


def test_a_missing_vectors_file_is_reported_with_rebuild_advice(tmp_path):
    write_cases(tmp_path / "corpus", range(2))
    settings = load_settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    sync([settings.corpus_dir], settings)
    for f in settings.index_dir.glob("vectors.*.faiss"):
        f.unlink()
    write_cases(settings.corpus_dir, [2])
    with pytest.raises(RagError, match="missing.*rag index --rebuild"):
        sync([settings.corpus_dir], settings)
    report = sync([settings.corpus_dir], settings, rebuild=True)
    assert report.documents == 3 and index_problems(settings.index_dir) == []
    np.testing.assert_equal(len(Store(settings.index_dir).faiss_ids()), report.chunks)
