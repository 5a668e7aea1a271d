"""Index page: add case reports to the corpus folder, re-index, see what the index holds.

Uploads are written into the corpus folder (``RAG_CORPUS_DIR``) under a sanitised
name that cannot point anywhere else, then the same ``rag.indexing.sync`` that
`rag index` runs brings the index (``RAG_INDEX_DIR``) up to date, with its progress
shown as it goes. File names and reasons from the corpus are shown in tables, never
as Markdown.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from dataclasses import asdict
from pathlib import Path, PurePosixPath

import streamlit as st

from rag.config import Settings, load_settings
from rag.errors import RagError
from rag.ingest import LOADERS, MAX_FILE_BYTES, printable, too_large
from rag.titles import titles

ALLOWED_TYPES = sorted(suffix.lstrip(".") for suffix in LOADERS)
MAX_NAME_CHARS = 120
BLANK = "—"  # what a table shows for metadata a report does not state (never "None")
STAGES = {
    "scanning": "Checking files",
    "reading": "Reading new files",
    "embedding": "Embedding passages",
    "committing": "Saving the index",
}


def safe_name(name: str) -> str:
    """The name an uploaded file is saved under: its base name, tamed; or RagError.

    Only the last path component is kept (either slash), odd characters become ``_``,
    and names that are hidden, empty or of an unsupported type are refused.
    """
    base = PurePosixPath(name.replace("\\", "/")).name
    base = unicodedata.normalize("NFKC", base).strip()
    if base.startswith("."):
        raise RagError(f"{base!r}: hidden files (names starting with a dot) are not accepted")
    base = re.sub(r"[^\w.()\- ]+", "_", base)
    base = re.sub(r"\s+", " ", base)
    stem, dot, suffix = base.rpartition(".")
    if not dot or f".{suffix.lower()}" not in LOADERS:
        allowed = ", ".join(f".{t}" for t in ALLOWED_TYPES)
        raise RagError(f"{name!r}: unsupported file type; upload one of {allowed}")
    stem = stem.strip(" ._-")[:MAX_NAME_CHARS]
    if not stem:
        raise RagError(f"{name!r}: the file name is empty once odd characters are removed")
    return f"{stem}.{suffix.lower()}"


def save_upload(corpus_dir: Path, name: str, data: bytes, replace: bool = False) -> Path:
    """Write one uploaded file into ``corpus_dir`` (never outside it); returns its path.

    The bytes go to a hidden temporary file first and are renamed into place, so a sync
    running meanwhile never reads half a file. An existing file of the same name is
    replaced only when asked; otherwise the upload gets a numbered name.
    """
    if len(data) > MAX_FILE_BYTES:  # the server refuses more (.streamlit/config.toml)
        raise RagError(f"{name!r}: {too_large(len(data))}")
    clean = safe_name(name)
    corpus = Path(corpus_dir).resolve()
    corpus.mkdir(parents=True, exist_ok=True)
    target = corpus / clean
    stem, suffix = target.stem, target.suffix
    n = 2
    while target.exists() or target.is_symlink():
        if replace and target.is_file() and not target.is_symlink():
            break
        if target.is_file() and not target.is_symlink() and target.read_bytes() == data:
            return target  # the same file again: nothing to do
        target, n = corpus / f"{stem} ({n}){suffix}", n + 1
    if target.resolve().parent != corpus:
        raise RagError(f"{name!r}: refusing to write outside the corpus folder")
    fd, tmp = tempfile.mkstemp(dir=corpus, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def run_sync(settings: Settings, rebuild: bool = False) -> dict:
    """Sync the corpus folder into the index with a progress bar; the report as a dict."""
    from rag.indexing import sync

    bar = st.progress(0.0, text="Starting…")

    def progress(stage: str, done: int, total: int) -> None:
        label = STAGES.get(stage, stage)
        bar.progress(min(done / total, 1.0) if total else 1.0, text=f"{label}: {done}/{total}")

    try:
        report = sync([settings.corpus_dir], settings, rebuild=rebuild, progress=progress)
    finally:
        bar.empty()
    return asdict(report)


def index_stats(index_dir: Path) -> tuple[dict, list[dict]] | None:
    """(stats, documents) of the index, or None when there is none yet."""
    from rag.store import Store

    try:
        store = Store(index_dir)
    except RagError:
        return None
    try:
        names = titles(store)
        docs = [
            {
                "title": printable(names.get(d.doc_id) or d.display_title),
                "journal": printable(d.journal) or BLANK,
                "year": str(d.year) if d.year else BLANK,
                "doi": printable(d.doi) or BLANK,
                "file": printable(Path(d.source).name),
            }
            for d in store.documents()
        ]
        return store.stats(), docs
    finally:
        store.close()


def show_report(report: dict) -> None:
    st.subheader("Last indexing run")
    if report.get("saved"):
        st.success(f"Saved {len(report['saved'])} file(s) to the corpus folder.")
    if report.get("refused"):
        st.error("Some uploads were refused:", icon=":material/error:")
        st.dataframe(report["refused"], hide_index=True)
    cols = st.columns(5)
    for col, key in zip(cols, ("added", "updated", "removed", "unchanged", "failed"), strict=True):
        col.metric(key.capitalize(), len(report[key]))
    st.caption(
        f"{report['chunks_embedded']} passages embedded in {report['seconds']:.1f} s"
        + (f"; {len(report['recleaned'])} cleaned again" if report.get("recleaned") else "")
    )
    if report["failed"]:
        st.warning("Some files were skipped; the rest were indexed.", icon=":material/warning:")
        st.dataframe(
            [
                {"file": printable(Path(p).name), "reason": printable(reason)}
                for p, reason in report["failed"]
            ],
            hide_index=True,
        )


def show_status(index_dir: Path) -> None:
    st.subheader("Index status")
    found = index_stats(index_dir)
    if found is None:
        st.info("There is no index yet: add files or index the corpus folder.")
        return
    stats, docs = found
    c1, c2, c3 = st.columns(3)
    c1.metric("Documents", stats["documents"])
    c2.metric("Passages", stats["chunks"])
    c3.metric("Generation", stats["generation"])
    built = stats["built_at"] or "never"
    st.caption(f"Model {stats['model']} ({stats['backend']}) · built {built}")
    if docs:
        st.dataframe(docs, hide_index=True)


def render() -> None:
    """The page body; ``app.py`` registers it with ``st.navigation``."""
    settings = load_settings()
    st.title("Index")
    st.caption(
        f"Case reports live in `{settings.corpus_dir}`; the index in `{settings.index_dir}`. "
        "Indexing processes new and changed files only; `rag index` does the same."
    )
    uploader_key = f"uploads-{st.session_state.get('upload_round', 0)}"
    files = st.file_uploader(
        "Add case reports",
        type=ALLOWED_TYPES,
        accept_multiple_files=True,
        key=uploader_key,
        max_upload_size=MAX_FILE_BYTES // 2**20,
        help=f"Up to {MAX_FILE_BYTES // 2**20} MB per file.",
    )
    c1, c2 = st.columns(2)
    replace = c1.checkbox("Replace files with the same name")
    rebuild = c2.checkbox("Rebuild everything", help="Re-process and re-embed every file.")
    b1, b2 = st.columns(2)
    add = b1.button("Add to corpus and index", type="primary", disabled=not files)
    reindex = b2.button("Index the corpus folder")
    if add or reindex:
        saved, refused = [], []
        for f in files if add else []:
            try:
                saved.append(save_upload(settings.corpus_dir, f.name, f.getvalue(), replace).name)
            except RagError as exc:
                refused.append({"file": printable(f.name), "reason": printable(str(exc))})
        try:
            report = run_sync(settings, rebuild=rebuild)
        except RagError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            st.session_state["index_report"] = {**report, "saved": saved, "refused": refused}
            st.session_state["upload_round"] = st.session_state.get("upload_round", 0) + 1
            st.rerun()  # a fresh, empty uploader; the report is shown from the session
    report = st.session_state.get("index_report")
    if report:
        show_report(report)
    show_status(settings.index_dir)
