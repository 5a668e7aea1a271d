"""What every page shares: the cached Pipeline, inert rendering of document text, styles.

Document text is untrusted (any file dropped into the corpus), and Streamlit renders
Markdown, HTML, LaTeX and its own ``:color[...]`` directives. Everything taken from a
document goes through :func:`inert`, which turns every ASCII punctuation character into
a numeric character reference: no markup of any kind survives, yet the browser shows the
original characters.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from pathlib import Path

import streamlit as st

from rag.config import Settings, load_settings
from rag.errors import RagError
from rag.pipeline import Pipeline

# The tab icon, inline: a Material icon (":material/...:") would be fetched from a font CDN
# by the browser, and nothing is fetched from the network at run time.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
    '<rect width="64" height="64" rx="14" fill="#1f6fb2"/>'
    '<path d="M26 12h12v14h14v12H38v14H26V38H12V26h14z" fill="#fff"/></svg>'
)
# Every ASCII punctuation character is meaningful to HTML, Markdown or Streamlit.
_ENTITIES = {ord(c): f"&#{ord(c)};" for c in string.punctuation}
_SPACES = re.compile(r"\s+")
_NEWLINE = re.compile(r"\r\n|\r|\n")


def inert(text: str) -> str:
    """HTML for untrusted text that neither HTML nor Markdown can interpret.

    Whitespace runs collapse to one space (four leading spaces would start a Markdown
    code block) and line breaks become ``<br>``, so the result is a single line.
    """
    lines = (_SPACES.sub(" ", line) for line in _NEWLINE.split(str(text)))
    return "<br>".join(line.translate(_ENTITIES) for line in lines)


def inert_attr(text: str) -> str:
    """Untrusted text for an HTML attribute value (a ``title`` shown on hover): one line,
    every punctuation character a character reference, so it cannot close the quotes."""
    return _SPACES.sub(" ", str(text)).strip().translate(_ENTITIES)


def corpus_file(source: str | Path, corpus: Path) -> Path | None:
    """The real path of an indexed source file if it lies inside the corpus folder.

    A document may have been indexed from elsewhere (`rag index /some/file.pdf`), or its
    file replaced by a link since: the app serves only what lies in the corpus folder.
    """
    try:
        real = Path(source).resolve(strict=True)
        root = Path(corpus).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return real if root in real.parents and real.is_file() else None


def read_corpus_file(source: Path, corpus: Path) -> bytes:
    """The bytes of a corpus file, checked again when a download asks for them."""
    real = corpus_file(source, corpus)
    if real is None:
        raise RagError(f"{source.name}: not a file inside the corpus folder")
    return real.read_bytes()


def highlighted(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """``inert`` text with the given character spans (whitespace trimmed) in ``<mark>``."""
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        start, end = max(start, pos), min(end, len(text))
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            continue
        out += [inert(text[pos:start]), "<mark>", inert(text[start:end]), "</mark>"]
        pos = end
    out.append(inert(text[pos:]))
    return "".join(out)


def excerpt_bounds(text: str, spans: list[tuple[int, int]], width: int = 420) -> tuple[int, int]:
    """A window of about ``width`` characters around the spans, cut at word boundaries."""
    if len(text) <= width:
        return 0, len(text)
    if spans:
        first, last = min(s for s, _ in spans), max(e for _, e in spans)
        pad = max(60, (width - (last - first)) // 2)
        start, end = max(0, first - pad), min(len(text), last + pad)
    else:
        first, last = width, 0
        start, end = 0, width
    if start > 0:
        cut = text.find(" ", start, first)
        start = cut + 1 if cut != -1 else start
    if end < len(text):
        cut = text.rfind(" ", max(last, start), end)
        end = cut if cut != -1 else end
    return start, end


@st.cache_resource(show_spinner="Loading the model and the index…", max_entries=4)
def _load_pipeline(key: str, _settings: Settings) -> Pipeline:
    """One Pipeline per configuration per process, shared by every session.

    ``key`` (the settings' repr) is what the cache hashes; a failed load raises and is
    not cached, so the next run retries (for example once the index has been built).
    """
    pipeline = Pipeline(_settings)
    pipeline.warm_up()
    return pipeline


def load_pipeline(settings: Settings | None = None) -> Pipeline:
    """The shared Pipeline for ``settings`` (default: ``load_settings()``, env included)."""
    settings = settings or load_settings()
    return _load_pipeline(repr(settings), settings)


def clear_pipelines() -> None:
    """Forget every cached Pipeline (after a rebuild with another model, say)."""
    _load_pipeline.clear()


def pipeline_or_error(settings: Settings | None = None) -> Pipeline | None:
    """The shared Pipeline, or ``None`` after showing the user-facing error in the page."""
    try:
        return load_pipeline(settings)
    except RagError as exc:
        st.error(str(exc), icon=":material/error:")
        return None


STYLE = """
<style>
.cq-answer {
  font-size: 1.06rem; line-height: 1.7; padding: 0.9rem 1.15rem;
  border-left: 4px solid #1f6fb2; border-radius: 0.5rem;
  background: rgba(31, 111, 178, 0.07);
}
.cq-abstain { border-left-color: #9a6b00; background: rgba(214, 153, 0, 0.09); }
.cq-ref, .cq-answer a.cq-ref, .cq-answer a.cq-ref:visited {
  font-weight: 700; color: #1f6fb2; font-size: 0.82em; white-space: nowrap;
  margin-left: 0.15em; text-decoration: none; cursor: pointer;
}
.cq-answer a.cq-ref:hover { text-decoration: underline; }
.cq-target { scroll-margin-top: 4rem; }
.cq-fields { width: 100%; border-collapse: collapse; font-size: 0.88rem; }
.cq-fields th, .cq-fields td {
  text-align: left; vertical-align: top; padding: 0.3rem 0.45rem;
  border-bottom: 1px solid rgba(128, 128, 128, 0.25);
}
.cq-fields th { font-weight: 650; white-space: nowrap; }
.cq-quote { cursor: help; border-bottom: 1px dotted rgba(110, 115, 125, 0.8); }
.cq-blank { color: rgba(110, 115, 125, 0.8); }
.cq-badge {
  display: inline-block; min-width: 1.9em; text-align: center; margin-right: 0.3em;
  padding: 0.05em 0.4em; border-radius: 0.4em; background: #1f6fb2; color: #fff;
  font-size: 0.8rem; font-weight: 700; vertical-align: 0.1em;
}
.cq-badge.cq-plain { background: rgba(128, 128, 128, 0.55); }
.cq-title { font-weight: 650; font-size: 1.02rem; line-height: 1.4; }
.cq-meta { color: rgba(110, 115, 125, 1); font-size: 0.84rem; margin-top: 0.15rem; }
.cq-passage { font-size: 0.95rem; line-height: 1.65; }
.cq-passage mark {
  background: rgba(255, 205, 40, 0.42); color: inherit; padding: 0.05em 0.15em;
  border-radius: 0.2em;
}
.cq-muted { color: rgba(110, 115, 125, 1); }
</style>
"""


def apply_style() -> None:
    """Inject the shared CSS (class names prefixed ``cq-``)."""
    st.html(STYLE)
