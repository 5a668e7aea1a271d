"""Sanity check of a held-out folder's gold.jsonl against its corpus, without CaseQA:
``python3 eval/check_gold.py eval/heldout3`` (or ``eval/heldout2``)."""

import html
import json
import os
import re
import sys

here = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else sys.exit(__doc__)
corpus = os.path.join(here, "corpus")


def text_of(path):
    with open(path, encoding="utf-8") as f:
        t = f.read()
    if path.endswith((".html", ".xml")):
        t = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", t, flags=re.S)
        t = html.unescape(re.sub(r"<[^>]+>", "", t))
    return t


docs = {
    os.path.splitext(f)[0]: text_of(os.path.join(corpus, f))
    for f in sorted(os.listdir(corpus))
    if f.endswith((".txt", ".md", ".html", ".xml"))
}
with open(os.path.join(here, "gold.jsonl"), encoding="utf-8") as f:
    rows = [json.loads(line) for line in f]
ids = [r["id"] for r in rows]
errors = []
if len(ids) != len(set(ids)):
    errors.append("duplicate ids")
n_ans = sum(r["answerable"] for r in rows)
n_un = len(rows) - n_ans
for r in rows:
    if not r["answerable"]:
        if r["relevant"] or r["answer_contains"]:
            errors.append(f"{r['id']}: unanswerable row has relevant/answer_contains")
        continue
    for d in r["relevant"]:
        if d not in docs:
            errors.append(f"{r['id']}: unknown doc {d}")
            continue
        for s in r["answer_contains"]:
            n = docs[d].count(s)
            if n != 1:
                errors.append(f"{r['id']}: '{s}' occurs {n}x in {d}")
            others = [o for o in docs if o != d and s in docs[o]]
            if others:
                errors.append(f"{r['id']}: '{s}' also in {others}")
if n_ans != 48 or n_un != 16:
    errors.append(f"expected 48 answerable and 16 unanswerable rows, got {n_ans} and {n_un}")
if len(docs) != 8:
    errors.append(f"expected 8 reports, got {len(docs)}")
for r in rows:
    want = "q" if r["answerable"] else "u"
    if not r["id"].startswith(want):
        errors.append(f"{r['id']}: id prefix does not match answerable={r['answerable']}")
    if r["answerable"] and (len(r["relevant"]) != 1 or not r["answer_contains"]):
        errors.append(f"{r['id']}: answerable row needs one relevant doc and an answer string")
per_doc = {d: sum(1 for r in rows if d in r["relevant"]) for d in docs}
print("docs:", len(docs), {d: len(t) for d, t in docs.items()})
print("answerable per doc:", per_doc)
print(f"rows={len(rows)} answerable={n_ans} unanswerable={n_un} unique_ids={len(set(ids))}")
print("errors:", errors if errors else "none")
sys.exit(1 if errors else 0)
