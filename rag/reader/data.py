"""Reading-comprehension sets turned into questions with candidate sentences.

A :class:`Group` is one question with the sentences a reader must judge: the sentence
that holds the answer span is positive, the others of its paragraph (SQuAD) or the
closest ones of its article (COVID-QA) are hard negatives, and every sentence of an
unanswerable question is negative. Articles, not questions, are split between training
and validation, so no validation question reads a text seen in training.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from rag.chunking import split_sentences

DATA_DIR = Path(__file__).resolve().parent / "data"
CASE_REPORTS = "case-reports"  # a folder of JSONL files: written reports and questions
SOURCES = (CASE_REPORTS, "covid-qa.json.gz", "squad2-dev-half.json.gz")
HARD_NEGATIVES = 7  # COVID-QA: the article's sentences closest in words to the question
RANDOM_NEGATIVES = 3
CASE_HARD_NEGATIVES = 9  # case reports are short: the closest sentences are most of the hard ones
CASE_RANDOM_NEGATIVES = 3
CASE_VALIDATION_SHARE = 0.2  # few reports: a fifth of them calibrate the threshold
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class Group:
    """One question and its candidate sentences; ``positives`` indexes the answers."""

    qid: str
    question: str
    sentences: list[str]
    positives: set[int] = field(default_factory=set)
    article: str = ""
    contexts: list[str] = field(default_factory=list)  # the sentence before each, or ""

    @property
    def answerable(self) -> bool:
        return bool(self.positives)


@dataclass
class Pair:
    question: str
    sentence: str
    label: float


def _sentences(context: str) -> list[tuple[int, int]]:
    return [
        (s.start, s.end)
        for s in split_sentences(context)
        if len(context[s.start : s.end].split()) >= 3
    ]


def _holding(spans: list[tuple[int, int]], offset: int) -> int | None:
    return next((i for i, (a, b) in enumerate(spans) if a <= offset < b), None)


def _overlap(question: str, sentence: str) -> float:
    q = set(_WORD.findall(question.lower()))
    return len(q & set(_WORD.findall(sentence.lower()))) / (len(q) or 1)


def _previous(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """The sentence before each span, when nothing but spaces stands between them (a line
    break ends a paragraph or a heading: no context across it)."""
    return [
        text[spans[i - 1][0] : spans[i - 1][1]]
        if i and not text[spans[i - 1][1] : a].strip(" \t")
        else ""
        for i, (a, _) in enumerate(spans)
    ]


def _paragraph_group(qa: dict, context: str, spans, article: str) -> Group | None:
    positives = set()
    for answer in qa.get("answers", []) if not qa.get("is_impossible") else []:
        i = _holding(spans, int(answer["answer_start"]))
        if i is not None:
            positives.add(i)
    if not qa.get("is_impossible") and not positives:
        return None  # the answer fell between our sentences: no clean label
    sentences = [context[a:b] for a, b in spans]
    return Group(
        str(qa["id"]), qa["question"], sentences, positives, article, _previous(context, spans)
    )


def _pick(question: str, sentences: list[str], skip: set[int], hard: int, rand: int, rng):
    """The ``hard`` sentences closest to the question in words, and ``rand`` others."""
    others = sorted(
        (i for i in range(len(sentences)) if i not in skip),
        key=lambda i: -_overlap(question, sentences[i]),
    )
    rest = others[hard:]
    return others[:hard] + rng.sample(rest, min(rand, len(rest)))


def _article_group(qa: dict, context: str, spans, article: str, rng: random.Random):
    """A long article: the answer sentence, the closest others by words, a few at random."""
    group = _paragraph_group(qa, context, spans, article)
    if group is None or not group.positives:
        return group
    picked = _pick(
        qa["question"], group.sentences, group.positives, HARD_NEGATIVES, RANDOM_NEGATIVES, rng
    )
    keep = sorted(group.positives) + picked
    return Group(
        group.qid,
        group.question,
        [group.sentences[i] for i in keep],
        set(range(len(group.positives))),
        article,
        [group.contexts[i] for i in keep],
    )


def load_case_reports(
    folder: Path,
    seed: int = 13,
    hard: int = CASE_HARD_NEGATIVES,
    rand: int = CASE_RANDOM_NEGATIVES,
) -> list[Group]:
    """Questions over written case reports (``case-reports/*.jsonl``; see the README).

    Each line is one report: ``{"id", "text", "questions": [{"q", "answer"}]}``, where
    ``answer`` is a verbatim span of the sentence that answers, or null for a near miss
    that the report does not answer. Candidates are the report's sentences closest to
    the question and a few others: the Discussion's sentences about other patients are
    the hard negatives a clinician's question meets. A larger ``hard`` and no ``rand``
    give the pool that ``mining.mine`` picks from.
    """
    rng = random.Random(seed)
    groups: list[Group] = []
    for report in jsonl_rows(Path(folder)):
        text = report["text"]
        spans = [s for line in _lines(text) for s in _sentences_at(text, *line)]
        sentences = [text[a:b] for a, b in spans]
        previous = _previous(text, spans)
        for n, qa in enumerate(report["questions"]):
            answer = qa.get("answer")
            held = _holding(spans, text.find(answer)) if answer else None
            if answer and (
                held is None
                or text.count(answer) != 1
                or text.find(answer) + len(answer) > spans[held][1]
            ):
                continue  # no single sentence holds the span: no clean label
            skip = {held} if held is not None else set()
            keep = sorted(skip) + _pick(qa["q"], sentences, skip, hard, rand, rng)
            groups.append(
                Group(
                    f"{report['id']}-{n}",
                    qa["q"],
                    [sentences[i] for i in keep],
                    {0} if skip else set(),
                    str(report["id"]),
                    [previous[i] for i in keep],
                )
            )
    return groups


def _lines(text: str) -> list[tuple[int, int]]:
    """Start and end of each line: a heading never joins the sentence after it."""
    return [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text)]


def _sentences_at(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(start + a, start + b) for a, b in _sentences(text[start:end])]


def load_groups(path: Path, seed: int = 13) -> list[Group]:
    """Every usable question of a SQuAD-layout file, with its candidate sentences."""
    if path.is_dir():
        return load_case_reports(path, seed)
    rng = random.Random(seed)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data = json.load(f)["data"]
    groups: list[Group] = []
    for n, article in enumerate(data):
        for para in article["paragraphs"]:
            name = str(article.get("title") or para.get("document_id") or n)
            context = para["context"]
            spans = _sentences(context)
            long = len(spans) > 40
            for qa in para["qas"]:
                if long:
                    g = _article_group(qa, context, spans, name, rng)
                else:
                    g = _paragraph_group(qa, context, spans, name)
                if g is not None and g.sentences:
                    groups.append(g)
    return groups


def split_by_article(
    groups: list[Group], validation_share: float, seed: int = 13
) -> tuple[list[Group], list[Group]]:
    """Training and validation groups, whole articles on one side only."""
    articles = sorted({g.article for g in groups})
    random.Random(seed).shuffle(articles)
    held = set(articles[: max(1, round(len(articles) * validation_share))])
    return [g for g in groups if g.article not in held], [g for g in groups if g.article in held]


def held_out(article: str, validation_share: float = CASE_VALIDATION_SHARE) -> bool:
    """Whether an article is on the validation side, by the hash of its name: the split of
    the reports already written stays put as more are written."""
    digest = hashlib.sha256(article.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < validation_share


def split_by_hash(groups: list[Group], validation_share: float) -> tuple[list[Group], list[Group]]:
    """Training and validation groups, whole articles on one side only (``held_out``)."""
    held = [held_out(g.article, validation_share) for g in groups]
    return (
        [g for g, h in zip(groups, held, strict=True) if not h],
        [g for g, h in zip(groups, held, strict=True) if h],
    )


def jsonl_rows(folder: Path):
    """Each row of ``folder/*.jsonl`` (written reports, hand-made cards), in file order."""
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)


def validation_reports(folder: Path = DATA_DIR / CASE_REPORTS) -> list[dict]:
    """The written reports on the validation side, as written (``{"id", "text", ...}``)."""
    return [r for r in jsonl_rows(Path(folder)) if held_out(str(r["id"]))]


def pairs(groups: list[Group]) -> list[Pair]:
    return [
        Pair(g.question, s, 1.0 if i in g.positives else 0.0)
        for g in groups
        for i, s in enumerate(g.sentences)
    ]


def training_sets(
    data_dir: Path = DATA_DIR,
    validation_share: float = 0.1,
    seed: int = 13,
    sources: tuple[str, ...] = SOURCES,
) -> tuple[dict[str, list[Group]], dict[str, list[Group]]]:
    """Training and validation groups of each bundled source, whole articles held out."""
    train: dict[str, list[Group]] = {}
    validation: dict[str, list[Group]] = {}
    for name in sources:
        groups = load_groups(data_dir / name, seed)
        if name == CASE_REPORTS:
            train[name], validation[name] = split_by_hash(groups, CASE_VALIDATION_SHARE)
        else:
            train[name], validation[name] = split_by_article(groups, validation_share, seed)
    return train, validation
