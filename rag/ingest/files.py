"""The files of a corpus: what ``rag index`` reads under the paths it is given."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rag.errors import RagError
from rag.ingest.catalog import CATALOG_NAME


def list_files(paths: Iterable[Path], skipped: list[tuple[str, str]] | None = None) -> list[Path]:
    """Every file under the given paths (hidden files and the metadata catalog aside).

    Only the folder itself is read: a link in it that points out of it (to a file
    elsewhere, a system file) is not followed but added to ``skipped`` with the reason.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            root = path.resolve()
            for f in sorted(path.rglob("*")):
                if f.name.startswith(".") or f.name == CATALOG_NAME:
                    continue
                reason = _link_problem(f, root)
                if reason:
                    if skipped is not None:
                        skipped.append((str(f), reason))
                elif f.is_file():
                    files.append(f)
        elif path.is_file():
            files.append(path)
        else:
            raise RagError(f"{path}: no such file or folder")
    return files


def _link_problem(path: Path, root: Path) -> str | None:
    """Why a link under ``root`` is not followed, or None (not a link, or one inside).

    Folders are not descended through links (``rglob``), so only the entry itself can be one.
    """
    if not path.is_symlink():
        return None
    target = path.resolve()
    if target == root or root in target.parents:
        return None if target.exists() else "a broken link (its target does not exist)"
    kind = "folder" if target.is_dir() else "file"
    return f"a link to a {kind} outside the corpus folder; links out of it are not followed"
