"""Saved web pages (``.html``, ``.htm``): the article via trafilatura, metadata via lxml.

trafilatura finds the main content and drops menus, sidebars and footers; it writes
Markdown, so headings reach the cleaner as ``#`` lines. Citation metadata comes from
the ``citation_*`` meta tags that journal sites publish for reference managers
(Highwire/Google Scholar convention), then Dublin Core and Open Graph, then trafilatura's
own guesses. Figure captions, which trafilatura leaves out, become sections of their own.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.documents import Section
from rag.errors import RagError

_DOI = re.compile(r"10\.\d{4,9}/\S+")
_FIGURE_LABEL = re.compile(r"^\s*((?:fig(?:ure)?|table)\.?\s*\d+[a-z]?)[.:]?\s*", re.I)
# What trafilatura's Markdown keeps of the page's markup inside a paragraph: super- and
# subscript tags ("kg/m<sup>2</sup>") and backslash escapes ("\[1\]").
_SCRIPT_TAG = re.compile(r"</?su[bp]>", re.I)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")


def load_html(path: Path, data: bytes) -> tuple[list[Section], dict]:
    import trafilatura
    from lxml import etree
    from lxml import html as lxml_html

    try:
        tree = lxml_html.document_fromstring(data)
    except (etree.ParserError, ValueError) as exc:
        raise RagError(f"{path.name}: not a readable HTML page ({exc})") from exc
    text = trafilatura.extract(
        data,
        output_format="markdown",
        include_tables=True,
        include_comments=False,
        include_images=False,
        include_links=False,
        favor_recall=True,
        deduplicate=False,
    )
    if not text or not text.strip():
        raise RagError(f"{path.name}: no article text found in the page")
    text = _plain(text)
    meta = _metadata(tree, data)
    blocks = [Section(heading=None, text=text)]
    blocks += [c for c in _captions(tree) if c.text not in text]
    return blocks, meta


def _plain(markdown: str) -> str:
    """trafilatura's Markdown with its inline markup read as text: "kg/m2", "[1]"."""
    return _ESCAPE.sub(r"\1", _SCRIPT_TAG.sub("", markdown))


def _meta_values(tree, *names: str) -> list[str]:
    """Contents of ``<meta name|property=...>`` tags with any of ``names``, in page order."""
    wanted = {n.lower() for n in names}
    values = []
    for el in tree.iter("meta"):
        key = (el.get("name") or el.get("property") or "").strip().lower()
        content = re.sub(r"\s+", " ", el.get("content") or "").strip()
        if key in wanted and content:
            values.append(content)
    return values


def _person(name: str) -> str:
    """ "Smith, Jane" -> "Jane Smith"; other forms are kept as written."""
    if name.count(",") == 1:
        surname, given = (p.strip() for p in name.split(","))
        return f"{given} {surname}".strip()
    return name


def _metadata(tree, data: bytes) -> dict:
    meta: dict = {}
    first = lambda *names: next(iter(_meta_values(tree, *names)), "")  # noqa: E731
    title = first("citation_title", "dc.title", "og:title")
    authors = _meta_values(tree, "citation_author") or _meta_values(tree, "dc.creator")
    journal = first("citation_journal_title", "prism.publicationname")
    date = first("citation_publication_date", "citation_date", "citation_online_date", "dc.date")
    doi = first("citation_doi", "prism.doi") or next(
        (v for v in _meta_values(tree, "dc.identifier") if _DOI.search(v)), ""
    )
    pmid = first("citation_pmid")
    if not title or not date:
        found = _found_metadata(data)
        if found is not None:
            title = title or (found.title or "")
            date = date or (found.date or "")
        title = title or re.sub(r"\s+", " ", tree.findtext(".//title") or "").strip()
    if title:
        meta["title"] = title
    if authors:
        meta["authors"] = [_person(a) for a in authors]
    if journal:
        meta["journal"] = journal
    if m := re.search(r"\b(19|20)\d{2}\b", date):
        meta["year"] = int(m.group(0))
    if m := _DOI.search(doi):
        meta["doi"] = m.group(0).rstrip(".,;)")
    if pmid.isdigit():
        meta["pmid"] = pmid
    return meta


def _found_metadata(data: bytes):
    """trafilatura's reading of the page's title and date, or None when it fails: its date
    finder (htmldate) raises on a reference such as "2020;11:55-63." (11:55 at an offset of
    -63 hours), and a date is not worth losing the page for."""
    import trafilatura

    try:
        return trafilatura.extract_metadata(data)
    except (ValueError, OverflowError, TypeError):
        return None


def _captions(tree) -> list[Section]:
    """Figure captions of the article (inside ``<article>``/``<main>`` when the page has one)."""
    scope = tree.xpath("//article | //main") or [tree]
    out: list[Section] = []
    for root in scope[:1]:
        for n, el in enumerate(root.iter("figcaption"), start=1):
            caption = re.sub(r"\s+", " ", el.text_content()).strip()
            if not caption:
                continue
            m = _FIGURE_LABEL.match(caption)
            label = m.group(1).rstrip(".").title() if m else f"Figure {n}"
            out.append(Section(heading=label, text=caption[m.end() :] if m else caption))
    return out
