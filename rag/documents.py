"""The data model: Document -> Chunk -> Hit -> Answer (plain dataclasses, no logic)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(kw_only=True)
class Metadata:
    """What a citation needs of a document, in one shape: the loaders' and
    ``corpus/catalog.json``'s dicts come in through ``from_dict``, a Document or DocInfo
    gives its own through ``of``; a Document is one (its fields are keywords), a DocInfo
    takes one's ``fields()``."""

    title: str = ""
    authors: list[str] = field(default_factory=list)
    journal: str = ""
    year: int | None = None
    doi: str = ""
    pmid: str = ""

    @classmethod
    def from_dict(cls, meta: dict) -> Metadata:
        """From a loader's or the catalog's dict (a year may come as a string)."""
        year = meta.get("year")
        return cls(
            title=meta.get("title") or "",
            authors=list(meta.get("authors") or []),
            journal=meta.get("journal") or "",
            year=int(year) if year else None,
            doi=meta.get("doi") or "",
            pmid=str(meta.get("pmid") or ""),
        )

    @classmethod
    def of(cls, doc: Document | DocInfo | None) -> Metadata:
        """A document's metadata (none known: empty)."""
        if doc is None:
            return cls()
        return cls(
            title=doc.title,
            authors=list(doc.authors),
            journal=doc.journal,
            year=doc.year,
            doi=doc.doi,
            pmid=doc.pmid,
        )

    def as_dict(self) -> dict:
        """The stated fields only, as the loaders and the catalog write them."""
        return {k: v for k, v in self.fields().items() if v not in (None, "", [])}

    def fields(self) -> dict:
        """Every field, as keywords for ``Document`` or ``DocInfo``."""
        return {k: getattr(self, k) for k in METADATA_FIELDS}


METADATA_FIELDS = ("title", "authors", "journal", "year", "doi", "pmid")


@dataclass
class Section:
    """A run of cleaned text under one heading, on one page where pages are known."""

    heading: str | None
    text: str
    page: int | None = None


@dataclass
class Document(Metadata):
    """A source file after loading and cleaning, with what a citation needs (its
    ``Metadata`` fields, by keyword)."""

    doc_id: str
    source: str
    sha256: str
    sections: list[Section]

    @property
    def text(self) -> str:
        """The cleaned text that chunk character spans point into."""
        return SECTION_SEPARATOR.join(s.text for s in self.sections)


SECTION_SEPARATOR = "\n\n"


@dataclass
class Chunk:
    """A passage: sentence-aligned, within one section, within the model's token window."""

    doc_id: str
    ordinal: int
    text: str
    section: str | None
    page_start: int | None
    page_end: int | None
    char_start: int
    char_end: int
    n_tokens: int
    chunk_id: int | None = None


@dataclass
class Hit:
    """A retrieved chunk with its fused score and the rank it had in each retriever."""

    chunk: Chunk
    score: float
    rank: int
    dense_rank: int | None = None
    lexical_rank: int | None = None
    dense_score: float | None = None
    lexical_score: float | None = None
    doc: DocInfo | None = None


@dataclass
class DocInfo:
    """Citation metadata of an indexed document (what a source card shows)."""

    doc_id: str
    source: str
    title: str
    authors: list[str]
    journal: str
    year: int | None
    doi: str = ""
    pmid: str = ""

    @property
    def display_title(self) -> str:
        return self.title or self.source.rsplit("/", 1)[-1]


@dataclass
class Citation:
    """One [n] marker: the sentence quoted and exactly where it stands in its passage."""

    n: int
    hit: Hit
    sentence: str
    start: int
    end: int


@dataclass
class Answer:
    """An extractive answer with [n] markers, or an abstention with the closest passages."""

    question: str
    text: str
    abstained: bool
    confidence: float
    citations: list[Citation]
    hits: list[Hit]
    reason: str = ""  # why it abstained, in words a clinician reads
    judged_by: str = "similarity"  # what scored the sentences: "similarity" or "reader"


@dataclass
class CardField:
    """One field of a case card: a normalised value where one applies (age in years,
    sex, spinal levels) and the report's sentence that states it."""

    value: str | int | None
    quote: str


@dataclass
class CaseCard:
    """A case report read as a patient: fields that the report states, None otherwise."""

    doc_id: str
    title: str
    patient: int = 1
    several: bool = False  # the report describes several patients it does not separate
    fields: dict[str, CardField | None] = field(default_factory=dict)
