"""Case cards in the catalog: one JSON row per patient, written in the same transaction
as the documents they describe, and the reader version that extracted them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from rag.documents import CardField, CaseCard, Chunk

CARDS_SCHEMA = """
CREATE TABLE IF NOT EXISTS cards (
    doc_key INTEGER NOT NULL REFERENCES documents(doc_key) ON DELETE CASCADE,
    patient INTEGER NOT NULL,
    card TEXT NOT NULL,
    PRIMARY KEY (doc_key, patient)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS card_runs (
    doc_key INTEGER PRIMARY KEY REFERENCES documents(doc_key) ON DELETE CASCADE,
    reader TEXT NOT NULL
);
"""


def card_json(card: CaseCard) -> dict:
    """The `rag cards --json` shape of one card."""
    return {
        "doc_id": card.doc_id,
        "title": card.title,
        "patient": card.patient,
        "several_patients": card.several,
        "fields": {
            name: None if f is None else {"value": f.value, "quote": f.quote}
            for name, f in card.fields.items()
        },
    }


def card_from_json(data: dict) -> CaseCard:
    fields = {
        name: None if f is None else CardField(f.get("value"), f["quote"])
        for name, f in data["fields"].items()
    }
    return CaseCard(
        data["doc_id"],
        data.get("title", ""),
        data.get("patient", 1),
        data.get("several_patients", False),
        fields,
    )


def write_cards(db: sqlite3.Connection, staged: Iterable[tuple[str, list[CaseCard], str]]) -> None:
    """Replace each document's cards and record the reader that read them (in the
    caller's transaction)."""
    for doc_id, cards, reader in staged:
        row = db.execute("SELECT doc_key FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
        if row is None:
            continue  # removed in the same commit
        db.execute("DELETE FROM cards WHERE doc_key=?", row)
        db.executemany(
            "INSERT INTO cards VALUES (?,?,?)",
            [(row[0], c.patient, json.dumps(card_json(c))) for c in cards],
        )
        db.execute("INSERT OR REPLACE INTO card_runs VALUES (?,?)", (row[0], reader))


def read_cards(db: sqlite3.Connection, doc_ids: Iterable[str] | None = None) -> list[CaseCard]:
    """Cards of the given documents (all when None), by document id and patient; titles
    as the catalog has them now."""
    if not _has_cards(db):
        return []
    rows = db.execute(
        "SELECT d.doc_id, d.title, c.card FROM cards c JOIN documents d USING (doc_key)"
        " ORDER BY d.doc_id, c.patient"
    )
    wanted = set(doc_ids) if doc_ids is not None else None
    cards = []
    for doc_id, title, data in rows:
        if wanted is None or doc_id in wanted:
            card = card_from_json(json.loads(data))
            card.doc_id, card.title = doc_id, title or card.title
            cards.append(card)
    return cards


def unread_documents(db: sqlite3.Connection, reader: str) -> list[str]:
    """Documents whose cards this reader has not extracted (new, or read by another)."""
    rows = db.execute(
        "SELECT d.doc_id FROM documents d LEFT JOIN card_runs r USING (doc_key)"
        " WHERE r.reader IS NULL OR r.reader != ? ORDER BY d.doc_id",
        (reader,),
    )
    return [r[0] for r in rows]


def _has_cards(db: sqlite3.Connection) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='cards'")
    return row.fetchone() is not None


def stored_chunks(db: sqlite3.Connection, doc_id: str) -> tuple[str, list[Chunk]]:
    """An indexed document's title and chunks, in order (to read its cards again)."""
    row = db.execute("SELECT doc_key, title FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
    if row is None:
        return "", []
    rows = db.execute(
        "SELECT chunk_id, ordinal, text, section, page_start, page_end, char_start, char_end,"
        " n_tokens FROM chunks WHERE doc_key=? ORDER BY ordinal",
        (row[0],),
    )
    return row[1], [
        Chunk(doc_id, o, text, sec, p0, p1, a, b, n, chunk_id=cid)
        for cid, o, text, sec, p0, p1, a, b, n in rows
    ]
