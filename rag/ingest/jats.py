"""JATS XML articles (PubMed Central ``.nxml``, publishers' ``.xml``) via lxml.

The markup already says what is what, so nothing is guessed: metadata comes from
``<front>``, sections and their headings from ``<abstract>`` and ``<body>``, and each
figure or table caption becomes a short section of its own ("Figure 1") so that it is
chunked and cited apart from the prose around it. ``<back>`` (references,
acknowledgements, notes) is left out.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.documents import Section
from rag.errors import RagError

# Parsed for their text elsewhere (captions) or not prose at all.
_SKIP_IN_TEXT = {"fig", "table-wrap", "disp-formula", "fig-group", "table-wrap-group", "ref-list"}
_CAPTIONED = {"fig", "table-wrap"}
_PUB_TYPES = ("epub", "ppub", "pub", "collection", "")


def _local(el) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(el, name: str) -> list:
    return [c for c in el if _local(c) == name]


def _first(el, *path: str):
    """The first element down a path of local names (namespace-agnostic)."""
    for name in path:
        if el is None:
            return None
        el = next((c for c in el.iter() if c is not el and _local(c) == name), None)
    return el


def _text(el, skip: frozenset[str] | set[str] = frozenset()) -> str:
    """All text under ``el`` with whitespace collapsed, leaving out ``skip`` subtrees."""
    if el is None:
        return ""
    parts: list[str] = []

    def walk(node) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if _local(child) not in skip:
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def load_jats(path: Path, data: bytes) -> tuple[list[Section], dict]:
    from lxml import etree

    # No DTD, no entities, no network: an article file must not make us fetch or expand.
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise RagError(f"{path.name}: not well-formed XML ({exc})") from exc
    article = root if _local(root) == "article" else _first(root, "article")
    if article is None:
        raise RagError(f"{path.name}: not a JATS article (no <article> element)")
    meta = _metadata(article)
    blocks: list[Section] = []
    for abstract in _abstracts(article):
        _add_container(abstract, "Abstract", blocks)
    body = _first(article, "body")
    if body is not None:
        _add_container(body, None, blocks)
    if not any(b.text.strip() for b in blocks):
        raise RagError(f"{path.name}: the article has no abstract or body text")
    return blocks, meta


def _abstracts(article) -> list:
    front = _first(article, "front")
    if front is None:
        return []
    found = [a for a in front.iter() if _local(a) == "abstract"]
    main = [a for a in found if a.get("abstract-type") in (None, "", "structured", "summary")]
    return main[:1] or found[:1]


def _add_container(el, heading: str | None, blocks: list[Section]) -> None:
    """Paragraphs of ``el`` under ``heading``; nested ``<sec>`` under their own titles."""
    paragraphs: list[str] = []
    captions: list[Section] = []

    def flush() -> None:
        if paragraphs:
            blocks.append(Section(heading=heading, text="\n".join(paragraphs)))
            paragraphs.clear()

    for child in el:
        name = _local(child)
        if name in ("title", "label", "ref-list", "fn-group"):
            continue
        if name == "sec":
            flush()
            title = _text(_children(child, "title")[0]) if _children(child, "title") else None
            _add_container(child, title or heading, blocks)
        elif name in _CAPTIONED or name.endswith("-group"):
            captions.extend(_captions(child))
        else:
            text = _text(child, _SKIP_IN_TEXT)
            if text:
                paragraphs.append(text)
            for inner in child.iter():
                if _local(inner) in _CAPTIONED:
                    captions.extend(_captions(inner))
    flush()
    blocks.extend(captions)


def _captions(el) -> list[Section]:
    """One section per figure or table caption: heading is its label ("Figure 1")."""
    items = [el] if _local(el) in _CAPTIONED else [x for x in el.iter() if _local(x) in _CAPTIONED]
    out = []
    for item in items:
        caption = _text(_first(item, "caption"))
        if not caption:
            continue
        label = _text(_children(item, "label")[0]) if _children(item, "label") else ""
        label = label.rstrip(".:") or ("Figure" if _local(item) == "fig" else "Table")
        out.append(Section(heading=label, text=caption))
    return out


def _metadata(article) -> dict:
    meta: dict = {}
    article_meta = _first(article, "front", "article-meta")
    journal_meta = _first(article, "front", "journal-meta")
    if article_meta is None:
        return meta
    if title := _text(_first(article_meta, "title-group", "article-title")):
        meta["title"] = title
    authors = []
    for contrib in article_meta.iter():
        if _local(contrib) != "contrib" or contrib.get("contrib-type", "author") != "author":
            continue
        name = _first(contrib, "name")
        if name is not None:
            given = _text(_first(name, "given-names"))
            surname = _text(_first(name, "surname"))
            full = " ".join(x for x in (given, surname) if x)
        else:
            full = _text(_first(contrib, "collab"))
        if full:
            authors.append(full)
    if authors:
        meta["authors"] = authors
    if journal_meta is not None and (journal := _text(_first(journal_meta, "journal-title"))):
        meta["journal"] = journal
    if year := _year(article_meta):
        meta["year"] = year
    for article_id in _children(article_meta, "article-id"):
        kind, value = article_id.get("pub-id-type"), _text(article_id)
        if kind == "doi" and value:
            meta["doi"] = value
        elif kind == "pmid" and value:
            meta["pmid"] = value
    return meta


def _year(article_meta) -> int | None:
    dates = _children(article_meta, "pub-date")
    for kind in _PUB_TYPES:
        for date in dates:
            if (date.get("pub-type") or date.get("date-type") or "") == kind:
                text = _text(_first(date, "year"))
                if re.fullmatch(r"\d{4}", text):
                    return int(text)
    years = [_text(_first(d, "year")) for d in dates]
    return next((int(y) for y in years if re.fullmatch(r"\d{4}", y)), None)
