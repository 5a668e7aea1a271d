"""Incremental sync: only new or changed files are embedded; renames, removals, rebuilds.

Real model, real FAISS, real SQLite. The corpus is 50 one-chunk case reports, so a full
build costs a few seconds and the counts of embedded chunks say exactly what was redone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures_builders import case_text, count_rows, index_problems, write_cases

from rag.config import load_settings
from rag.indexing import sync
from rag.store import Store

N = 50


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """50 cases indexed once; tests copy the corpus and index before changing them."""
    root = tmp_path_factory.mktemp("incremental")
    corpus, index = root / "corpus", root / "index"
    write_cases(corpus, range(N))
    # Sentence vectors (an option, off by default) too: removals must clear them as well.
    settings = load_settings(corpus_dir=corpus, index_dir=index, sentence_vectors=True)
    report = sync([corpus], settings)
    return settings, report


@pytest.fixture
def fresh(built, tmp_path):
    """A private copy of the built corpus and index."""
    settings, _ = built
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(settings.corpus_dir, corpus)
    shutil.copytree(settings.index_dir, index)
    # Sources are absolute paths: point the copied catalog at the copied files.
    import sqlite3

    with sqlite3.connect(index / "catalog.sqlite") as db:
        db.execute(
            "UPDATE documents SET source = replace(source, ?, ?)",
            (str(settings.corpus_dir), str(corpus)),
        )
    return load_settings(corpus_dir=corpus, index_dir=index, sentence_vectors=True)


def chunk_ids(index: Path, doc_id: str) -> set[int]:
    store = Store(index)
    try:
        return store.chunk_ids_for_docs([doc_id])
    finally:
        store.close()


def test_first_build_embeds_every_chunk_once(built):
    settings, report = built
    assert len(report.added) == N and report.failed == []
    assert report.documents == N and report.chunks == N  # one chunk per case
    assert report.chunks_embedded == N
    assert index_problems(settings.index_dir) == []


def test_a_sync_with_nothing_changed_writes_no_new_generation(fresh):
    from rag.store import Store

    def state():
        store = Store(fresh.index_dir)
        try:
            files = sorted(fresh.index_dir.glob("vectors.*.faiss"))
            return store.generation, [(f.name, f.stat().st_mtime_ns) for f in files]
        finally:
            store.close()

    before = state()
    report = sync([fresh.corpus_dir], fresh)
    assert len(report.unchanged) == N and report.added == report.updated == report.removed == []
    assert report.chunks_embedded == 0
    assert state() == before


def test_adding_one_document_embeds_only_its_chunks(fresh, capsys):
    new = write_cases(fresh.corpus_dir, [N])[0]
    report = sync([fresh.corpus_dir], fresh)
    assert report.added == [str(new)]
    assert len(report.unchanged) == N and report.updated == report.removed == []
    assert report.recleaned == []
    added_chunks = len(chunk_ids(fresh.index_dir, new.stem))
    assert report.chunks_embedded == added_chunks == 1
    assert report.documents == N + 1 and index_problems(fresh.index_dir) == []

    rebuild = sync([fresh.corpus_dir], fresh, rebuild=True)
    assert rebuild.chunks_embedded == N + 1 and rebuild.documents == N + 1
    assert index_problems(fresh.index_dir) == []
    with capsys.disabled():
        print(
            f"\n[incremental] {N}+1 documents: adding one took {report.seconds:.2f} s "
            f"({report.chunks_embedded} chunk embedded); full rebuild took "
            f"{rebuild.seconds:.2f} s ({rebuild.chunks_embedded} chunks embedded)"
        )


def test_changed_file_is_re_embedded_under_the_same_id(fresh):
    path = fresh.corpus_dir / "case_007.txt"
    before = chunk_ids(fresh.index_dir, "case_007")
    path.write_text(case_text(7) + "A repeat scan at one year was normal.\n", encoding="utf-8")
    report = sync([fresh.corpus_dir], fresh)
    assert report.updated == [str(path)] and report.added == report.removed == []
    assert report.chunks_embedded == 1
    after = chunk_ids(fresh.index_dir, "case_007")
    assert after and not after & before  # new chunk rows, old ones gone
    store = Store(fresh.index_dir)
    assert "repeat scan at one year" in store.chunks(after)[min(after)][0].text
    assert store.faiss_ids() == set(store.chunks(range(1, 10_000)))
    assert index_problems(fresh.index_dir) == []


def test_removed_file_leaves_faiss_sqlite_and_sentences(fresh):
    gone = chunk_ids(fresh.index_dir, "case_011")
    assert gone and count_rows(
        fresh.index_dir, f"SELECT count(*) FROM sentences WHERE chunk_id IN ({min(gone)})"
    )
    (fresh.corpus_dir / "case_011.txt").unlink()
    report = sync([fresh.corpus_dir], fresh)
    assert report.removed == [str(fresh.corpus_dir / "case_011.txt")]
    assert report.chunks_embedded == 0 and report.documents == N - 1
    store = Store(fresh.index_dir)
    assert not store.faiss_ids() & gone
    assert store.chunk_ids_for_docs(["case_011"]) == set()
    ids = ",".join(map(str, gone))
    assert (
        count_rows(fresh.index_dir, f"SELECT count(*) FROM sentences WHERE chunk_id IN ({ids})")
        == 0
    )
    assert (
        count_rows(fresh.index_dir, f"SELECT count(*) FROM chunks_fts WHERE rowid IN ({ids})") == 0
    )
    assert index_problems(fresh.index_dir) == []


def test_renamed_file_is_not_re_embedded_and_keeps_its_vectors(fresh):
    before = chunk_ids(fresh.index_dir, "case_003")
    (fresh.corpus_dir / "case_003.txt").rename(fresh.corpus_dir / "renamed case.txt")
    report = sync([fresh.corpus_dir], fresh)
    assert report.chunks_embedded == 0
    assert report.added == report.removed == report.updated == []
    store = Store(fresh.index_dir)
    docs = {d.doc_id: d for d in store.documents()}
    assert "case_003" not in docs and docs["renamed_case"].source.endswith("renamed case.txt")
    assert store.chunk_ids_for_docs(["renamed_case"]) == before
    assert index_problems(fresh.index_dir) == []


def test_two_files_swapping_names_is_two_renames(fresh):
    a, b = fresh.corpus_dir / "case_001.txt", fresh.corpus_dir / "case_002.txt"
    ids_a = chunk_ids(fresh.index_dir, "case_001")
    tmp = a.with_suffix(".tmp")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)
    report = sync([fresh.corpus_dir], fresh)
    assert report.chunks_embedded == 0 and report.failed == []
    assert chunk_ids(fresh.index_dir, "case_002") == ids_a  # case 1's text, now in case_002
    assert index_problems(fresh.index_dir) == []


def test_copy_under_a_second_name_is_indexed_once(fresh):
    shutil.copy(fresh.corpus_dir / "case_020.txt", fresh.corpus_dir / "zz copy.txt")
    report = sync([fresh.corpus_dir], fresh)
    assert report.chunks_embedded == 0 and report.documents == N
    assert report.failed == [
        (str(fresh.corpus_dir / "zz copy.txt"), "duplicate: same content as case_020.txt")
    ]
    # The copy sorting first does not steal the indexed file's identity either.
    shutil.copy(fresh.corpus_dir / "case_021.txt", fresh.corpus_dir / "a copy.txt")
    report = sync([fresh.corpus_dir], fresh)
    assert report.chunks_embedded == 0
    sources = {d.doc_id: d.source for d in Store(fresh.index_dir).documents()}
    assert sources["case_021"] == str(fresh.corpus_dir / "case_021.txt")


def test_lines_repeated_once_a_second_page_arrives_are_cleaned_from_the_first(fresh):
    """Cross-document chrome is judged by the whole corpus, not by the order files came in."""
    # A sentence, so only its repetition across documents can mark it as chrome.
    footer = "This vignette was filed in the quarterly column of the regional bulletin."
    first = fresh.corpus_dir / "site_a.txt"
    first.write_text(case_text(60) + footer + "\n", encoding="utf-8")
    report = sync([fresh.corpus_dir], fresh)
    assert report.added == [str(first)]
    assert footer in chunk_text(fresh.index_dir, "site_a")

    second = fresh.corpus_dir / "site_b.txt"
    second.write_text(case_text(61) + footer + "\n", encoding="utf-8")
    report = sync([fresh.corpus_dir], fresh)
    assert report.added == [str(second)] and report.recleaned == [str(first)]
    assert report.chunks_embedded == 2  # the new page and the recleaned one, nothing else
    assert footer not in chunk_text(fresh.index_dir, "site_a")
    assert footer not in chunk_text(fresh.index_dir, "site_b")

    second.unlink()
    report = sync([fresh.corpus_dir], fresh)
    assert report.removed == [str(second)] and report.recleaned == [str(first)]
    assert footer in chunk_text(fresh.index_dir, "site_a")
    assert index_problems(fresh.index_dir) == []


def chunk_text(index: Path, doc_id: str) -> str:
    store = Store(index)
    return " ".join(c.text for c, _ in store.chunks(store.chunk_ids_for_docs([doc_id])).values())


def test_cli_prints_the_counts_and_rebuild_flag_redoes_everything(fresh):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "rag.cli", "index", str(fresh.corpus_dir)]
    cmd += ["--index", str(fresh.index_dir)]
    (fresh.corpus_dir / "case_000.txt").unlink()
    (fresh.corpus_dir / "notes.docx").write_bytes(b"PK\x03\x04 not really")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    assert (
        f"0 added, 0 updated, 1 removed, {N - 1} unchanged, 0 re-cleaned, 1 failed; "
        "0 chunks embedded"
    ) in out
    assert "notes.docx: unsupported format '.docx'" in out
    assert count_rows(fresh.index_dir, "SELECT count(*) FROM documents") == N - 1
