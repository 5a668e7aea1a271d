"""`rag cards` and `rag similar`: case cards and similar cases from the command line."""

from __future__ import annotations

import argparse
import json
import textwrap

from rag.card_store import card_json


def add_case_parsers(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("cards", parents=[common], help="case cards read at index time")
    p.add_argument("doc_ids", nargs="*", help="documents (default: all)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_cards)
    p = sub.add_parser("similar", parents=[common], help="case reports like a patient summary")
    p.add_argument("summary", help="a few sentences about the patient")
    p.add_argument("-k", type=int, default=10, help="cases to list (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_similar)


def _pipeline(args):
    from rag.cli import settings_from
    from rag.pipeline import Pipeline

    return Pipeline(settings_from(args))


def cmd_cards(args: argparse.Namespace) -> int:
    cards = _pipeline(args).cards(args.doc_ids or None)
    if args.json:
        print(json.dumps([card_json(c) for c in cards], indent=2, ensure_ascii=False))
        return 0
    for card in cards:
        print(card_text(card))
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    query, matches = _pipeline(args).similar(args.summary, args.k)
    if args.json:
        record = {
            "summary": args.summary,
            "card": card_json(query)["fields"],
            "cases": [
                {
                    "rank": rank,
                    "doc_id": m.card.doc_id,
                    "patient": m.card.patient,
                    "title": m.card.title,
                    "score": round(m.score, 4),
                    "matched_fields": [{"field": f, "quote": q} for f, q in m.matched.items()],
                }
                for rank, m in enumerate(matches, start=1)
            ],
        }
        print(json.dumps(record, indent=2, ensure_ascii=False))
        return 0
    for rank, m in enumerate(matches, start=1):
        fields = ", ".join(m.matched) or "no field"
        print(f"{rank}. {m.card.title or m.card.doc_id} (score {m.score:.3f}; agrees on {fields})")
    return 0


def card_text(card) -> str:
    head = f"{card.title or card.doc_id}" + (
        f" - patient {card.patient}" if card.patient > 1 else ""
    )
    lines = [head, f"  ({card.doc_id})"]
    for name, f in card.fields.items():
        if f is None:
            lines.append(f"  {name}: not stated")
            continue
        value = f"{f.value} - " if f.value not in (None, "") else ""
        lines.append(
            textwrap.fill(
                f'{name}: {value}"{f.quote}"', 100, initial_indent="  ", subsequent_indent="    "
            )
        )
    return "\n".join(lines)
