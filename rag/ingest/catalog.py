"""Citation metadata that a document's text does not carry: ``corpus/catalog.json``.

Maps a file name to ``{"title", "authors", "journal", "year", "doi", "pmid"}``. Only
what a source states belongs there; anything unknown stays empty.
"""

from __future__ import annotations

import json
from pathlib import Path

from rag.errors import RagError

CATALOG_NAME = "catalog.json"
FIELDS = ("title", "authors", "journal", "year", "doi", "pmid")


def read_catalog(folder: Path) -> dict[str, dict]:
    path = folder / CATALOG_NAME
    if not path.exists():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RagError(f"{path}: not valid JSON ({exc}); fix or remove it") from exc
    return {name: {k: v for k, v in meta.items() if k in FIELDS} for name, meta in entries.items()}
