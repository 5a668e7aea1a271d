"""Case cards: a case report read as a patient, in cited fields.

Age and sex come from patterns ("A 57-year-old female"); each other field quotes the
sentence of the report's own account of its patient that the field model
(``rag/card_model.py``, fitted on hand-made cards of the written training reports) scores
best from the answer reader's reply to the field's question, how much the sentence reads
like that field's kind of statement, its words, where it stands and its section heading.
A field stays empty when the model's "none" wins: a guess is worse than a blank.
Sentences about other patients (the literature, earlier cases, tables of them) are never
quoted. A report whose text separates its patients ("Case 1", "Case 2") gets one card
per patient."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.answering import content_terms
from rag.card_model import FieldModel
from rag.card_store import stored_chunks, unread_documents
from rag.chunking import split_sentences
from rag.documents import CardField, CaseCard, Chunk, Document
from rag.embedding import Embedder
from rag.reader.model import MODEL_DIR, Reader, log_odds

FIELDS_FILE = "fields.json"  # the fitted field model, beside the reader it was fitted with
RULES = "11"  # bumped when the extraction rules change: indexed cards are then read again
# The question the reader answers for each field, about the report's own patient.
QUESTIONS = {
    "complaint": "What symptoms did the patient present with?",
    "diagnosis": "What was the patient diagnosed with?",
    "site": "Where in the body was the patient's lesion?",
    "history": "What was the patient's past medical history?",
    "investigations": "What did the patient's imaging or laboratory tests show?",
    "treatment": "How was the patient treated?",
    "complications": "What complication did the patient develop?",
    "outcome": "How was the patient at follow-up?",
}
# "A 57-year-old", "His 22-month-old sister", "aged 63": one patient's age, not a cohort's
# ("patients aged 18 to 65").
AGE = re.compile(
    r"\b(?:an?|our|the|this|his|her)\s+(\d{1,3})[- ](year|yr|month|week)s?[- ]old\b"
    r"|\b(?:was|is|patient|woman|man|girl|boy),? aged (\d{1,3})()\b"
    r"|\b(?:was|is) (\d{1,3})() years? (?:of age|old)\b",
    re.I,
)
_FEMALE_NOUNS = "woman|female|girl|lady|mother|sister|daughter|wife|aunt|niece|primigravida"
_MALE_NOUNS = "man|male|boy|gentleman|father|brother|son|husband|uncle|nephew"
FEMALE = re.compile(rf"\b({_FEMALE_NOUNS}|she|her|hers)\b", re.I)
MALE = re.compile(rf"\b({_MALE_NOUNS}|he|his|him)\b", re.I)
SEX_NOUN = re.compile(rf"\b({_FEMALE_NOUNS}|{_MALE_NOUNS})\b", re.I)
SPINAL_LEVEL = re.compile(r"\b[CTLS]\d{1,2}(?:\s*[-–/]\s*[CTLS]?\d{1,2})?\b")
# A report about one patient names them so; a study abstract speaks of "patients".
A_PATIENT = re.compile(
    r"\b(?:our|the|this) patient\b(?!s)|\b(?:he|she|patient) (?:was )?(?:presented|admitted)\b"
    r"|\bwas (?:admitted|referred|brought in) (?:with|to|after|for)\b",
    re.I,
)
FEW = 3  # fewer case sentences than this: the report is an abstract or a fragment
PATIENT_MARK = re.compile(r"^\s*(?:case|patient)\s*(\d)\b", re.I)
# What a sentence about other patients or the literature looks like.
OTHER_PATIENTS = re.compile(
    r"\bet al\b|\breported\b|\bliterature\b|\bstud(?:y|ies)\b|\bcases\b"
    r"|\bseries\b|\breview\b|[a-z)][.,]\d+(?:[,–-]\d+)*(?:\s|$)"
    r"|\b(?-i:[a-z]{4,})\d+(?:[,–-]\d+)*[.,;]?(?:\s|$)",  # glued references: "joints1-6."
    re.I,
)
_COUNT = r"(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|several|few)"
# The words a report uses when it states each field. Like answer types: a sentence states
# a kind of fact, not just a topic.
FIELD_CUES = {
    name: re.compile(pattern, re.I)
    for name, pattern in {
        "complaint": r"\bpresent(?:ed|ing|s)\b|\bcomplain(?:ed|ing|ts?)\b|\bbrought (?:in|to)\b"
        r"|\breferred\b|\badmitted with\b|\bchief complaint\b",
        "diagnosis": r"\bdiagnos(?:is|ed|tic of)\b|\bconsistent with\b|\bconfirm(?:ed|ing)\b",
        "site": SPINAL_LEVEL.pattern
        + r"|\b(?:located|involving|arising|extending)\b|\b(?:left|right) \w+",
        # Also what came before the illness: "three weeks before", "14 months earlier" and
        # the pluperfect ("had been taking", "had undergone"), as case reports tell it.
        "history": r"\bhistory\b|\bbackground\b|\bknown\b|\bpreviously\b|\bprior\b"
        r"|\bmedications?\b|\bsmok(?:er|ing)\b"
        rf"|\b{_COUNT} (?:days?|weeks?|months?|years?|decades?) (?:before|earlier|previously|ago)\b"
        r"|\bhad (?:recently |previously |already |once |never )?"
        r"(?:been|had|\w+(?:ed|en|un|ought|ook|ew|ung)\b)",
        "investigations": r"\b(?:MRI|CT|PET|ECG|EEG|ultrasound|ultrasonography|radiograph\w*"
        r"|x-ray|biopsy|angiograph\w*|echocardiograph\w*|imaging|scan|culture|serology)\b"
        r"|\b(?:showed|revealed|demonstrated)\b",
        "treatment": r"\b(?:treated|underwent|started|given|received|administered|commenced)\b"
        r"|\b(?:surgery|resection|excision|laminectomy|fixation|decompression|drainage)\b"
        r"|\b\d+(?:\.\d+)? ?(?:mg|g|mcg|µg|units|IU)\b",
        "complications": r"\bcomplicat\w+\b|\bpostoperative(?:ly)?\b|\bdeveloped\b",
        "outcome": r"\bfollow(?:ed)?[- ]up\b|\bdischarged\b|\brecover\w*\b|\bresolved\b"
        r"|\bat (?:\d+|one|two|three|six|twelve) (?:weeks?|months?|years?)\b|\bremission\b",
    }.items()
}
# Section headings that name a field ("Treatment", "Outcome and follow-up").
FIELD_HEADINGS = {
    name: re.compile(pattern, re.I)
    for name, pattern in {
        "complaint": r"present|case (?:report|description)|clinical",
        "diagnosis": r"diagnos",
        "site": r"imaging|finding",
        "history": r"history",
        "investigations": r"investigat|imaging|laborator|patholog|histolog|finding|work-?up",
        "treatment": r"treatment|management|operati|surg|therap|procedure|intervention",
        "complications": r"complicat|course",
        "outcome": r"outcome|follow|prognosis",
    }.items()
}
# What each field's statements read like, to the embedding model (general examples, not
# taken from any report CaseQA is measured on).
FIELD_EXAMPLES = {
    "complaint": [
        "The patient presented with a two-week history of pain and fever.",
        "She complained of headache, vomiting and weakness of the legs.",
    ],
    "diagnosis": [
        "The findings were consistent with a diagnosis of the disease.",
        "A diagnosis of the syndrome was made.",
    ],
    "site": [
        "The lesion was located in the left lower lobe of the lung.",
        "The mass involved the spinal canal at the level of the vertebra.",
    ],
    "history": [
        "He had a history of hypertension and diabetes, treated with tablets.",
        "Her past medical history included asthma and a previous operation.",
    ],
    "investigations": [
        "Magnetic resonance imaging showed a lesion.",
        "Blood tests revealed a raised white cell count and C-reactive protein.",
    ],
    "treatment": [
        "He underwent surgical resection of the mass.",
        "She was started on intravenous antibiotics at a dose of 2 g daily.",
    ],
    "complications": [
        "Postoperatively, he developed a wound infection.",
        "Her course was complicated by a deep vein thrombosis.",
    ],
    "outcome": [
        "At six months of follow-up, she had recovered fully.",
        "He was discharged home and remained well at one year.",
    ],
}
# Where in a case's account each field usually stands (0: its first sentence, 1: its last).
USUAL_PLACE = {
    "complaint": (0.0, 0.25),
    "history": (0.0, 0.35),
    "investigations": (0.15, 0.7),
    "diagnosis": (0.3, 0.8),
    "site": (0.1, 0.7),
    "treatment": (0.4, 0.85),
    "complications": (0.55, 0.95),
    "outcome": (0.75, 1.0),
}
NOT_THE_CASE = re.compile(
    r"abstract|summary|discussion|introduction|background|literature|conclusion|reference|learning",
    re.I,
)
# The authors presenting their case ("We report ...", "In the present case, we describe ...").
PRESENTS = re.compile(r"\bwe (?:report|present|describe)\b", re.I)
# What such a sentence states of its case: the condition, and where it lies.
PRESENTED_FIELDS = ("diagnosis", "site")
# The authors' voice framing the report ("We present a woman who ..."), not its account.
FRAMING = re.compile(r"^\W*(?:we|this|here|in this|our aim)\b", re.I)
# Not the account either: a figure or table caption ("(A) Axial CT ...", "Figure 2."), and
# the lines that journals print after the case: consent, ethics, thanks, funding, conflicts.
CAPTION = re.compile(r"^\W*(?:\([A-Za-z]\)\s|(?:fig(?:ure)?|table)\.?\s*\d)", re.I)
BACK_MATTER = re.compile(
    r"\b(?:informed consent|consent (?:was|for)|submitted for publication|ethics committee"
    r"|institutional review board|data concerning the case|(?:like|wish) to (?:thank|acknowledge)"
    r"|we (?:thank|acknowledge)|grateful to|funding|conflicts? of interest|competing interests)\b",
    re.I,
)
# One abbreviation spelt out ("CT: computed tomography"), as journals list them.
ABBREVIATION = re.compile(r"\b([A-Z][A-Za-z0-9]*[A-Z0-9]): ([a-z][a-z-]*(?: [a-z][a-z-]*)*)")
# A sentence that denies ("no history of", "previously well"): a field model feature, since
# a report states what the patient did not have beside what she had.
DENIES = re.compile(
    r"\bno (?:\w+ ){0,3}(?:history|previous|prior|known|significant|family)\b|\bdenied\b"
    r"|\bpreviously (?:well|healthy|fit)\b|\bunremarkable\b|\bnot (?:taking|take|have|had)\b",
    re.I,
)


def document_sentences(chunks: list[Chunk]) -> list[tuple[str | None, str]]:
    """(section, sentence) in reading order, each sentence once despite chunk overlap."""
    seen: set[int] = set()
    out: list[tuple[str | None, str]] = []
    for chunk in sorted(chunks, key=lambda c: c.ordinal):
        for span in split_sentences(chunk.text):
            at = chunk.char_start + span.start
            if at in seen:
                continue
            seen.add(at)
            out.append((chunk.section, chunk.text[span.start : span.end]))
    return out


def abbreviation_list(sentence: str) -> bool:
    """Whether the sentence only spells out abbreviations ("CT: computed tomography.")."""
    pairs = ABBREVIATION.findall(sentence)
    rest = ABBREVIATION.sub("", sentence).strip(" ;,.")
    return bool(pairs) and not rest and all(a[0].lower() == b[0] for a, b in pairs)


def about_this_patient(section: str | None, sentence: str) -> bool:
    if section and NOT_THE_CASE.search(section):
        return False
    return not (
        OTHER_PATIENTS.search(sentence)
        or FRAMING.search(sentence)
        or CAPTION.search(sentence)
        or BACK_MATTER.search(sentence)
        or abbreviation_list(sentence)
    )


def fragment(sentences: list[tuple[str | None, str]]) -> bool:
    """Whether the report holds no account of its patient, only its framing (a web capture
    of an abstract and an introduction): fewer than ``FEW`` sentences about the patient."""
    return sum(about_this_patient(sec, s) for sec, s in sentences) < FEW


def patients(sentences: list[tuple[str | None, str]]) -> list[list[tuple[str | None, str]]]:
    """The case's (section, sentence) pairs split per patient where the report marks them
    ("Case 1", "Case 2"), by section headings or by lines of their own."""
    marked = list(dict.fromkeys(sec for sec, _ in sentences if sec and PATIENT_MARK.match(sec)))
    if len(marked) >= 2:
        return [
            [(sec, s) for sec, s in sentences if sec == name and not OTHER_PATIENTS.search(s)]
            for name in marked
        ]
    case = [(sec, s) for sec, s in sentences if about_this_patient(sec, s)]
    if len(case) < FEW:  # a fragment: an abstract's account, or only framing, is all there is
        case = [
            (sec, s)
            for sec, s in sentences
            if not (OTHER_PATIENTS.search(s) or BACK_MATTER.search(s))
        ]
    marks = [i for i, (_, s) in enumerate(case) if PATIENT_MARK.match(s)]
    if len(marks) < 2:
        return [case]
    return [case[a:b] for a, b in zip(marks, [*marks[1:], len(case)], strict=True)]


def age_of(match: re.Match) -> float | int:
    """Age in years; months and weeks as a fraction of a year (22 months: 1.83)."""
    number, unit = next(
        (a, b) for a, b in zip(match.groups()[::2], match.groups()[1::2], strict=True) if a
    )
    unit = (unit or "year").lower()
    if unit.startswith("month"):
        return round(int(number) / 12, 2)
    if unit.startswith("week"):
        return round(int(number) / 52, 2)
    return int(number)


def age_and_sex(sentences: list[str]) -> tuple[CardField | None, CardField | None]:
    """The first stated age of the patient, and the sex stated with it or, failing that,
    by the report's pronouns for its patient when they all agree."""
    age = sex = None
    for s in sentences:
        m = AGE.search(s)
        if m:
            age = CardField(age_of(m), s)
            noun = SEX_NOUN.match(s, m.end() + 1) or SEX_NOUN.search(s)
            if noun:
                sex = CardField(_sex_of(noun.group(1)), s)
            break
    if sex is None:
        sex = _sex_by_pronouns(sentences)
    return age, sex


def _sex_of(word: str) -> str:
    return "female" if FEMALE.fullmatch(word) else "male"


def _sex_by_pronouns(sentences: list[str]) -> CardField | None:
    """Sex from the report's own words for its patient, only when they all agree."""
    female = [s for s in sentences if FEMALE.search(s)]
    male = [s for s in sentences if MALE.search(s)]
    if len(female) >= 2 and not male:
        return CardField("female", female[0])
    if len(male) >= 2 and not female:
        return CardField("male", male[0])
    return None


@dataclass
class FieldReader:
    """The answer reader asks each field's question; the embedding model says how much a
    sentence reads like the kind of statement a field is (``FIELD_EXAMPLES``)."""

    reader: Reader
    embedder: Embedder

    @property
    def model_path(self) -> Path:
        """The field model fitted with this reader; the shipped one for a reader without."""
        own = self.reader.model_dir / FIELDS_FILE
        return own if own.exists() else MODEL_DIR / FIELDS_FILE

    @cached_property
    def model(self) -> FieldModel:
        return FieldModel.load(self.model_path)

    @cached_property
    def version(self) -> str:
        fitted = hashlib.sha256(self.model_path.read_bytes()).hexdigest()[:8]
        return f"{self.reader.version}:{RULES}:{fitted}"

    @cached_property
    def kinds(self) -> dict[str, np.ndarray]:
        """One unit vector per field: the mean of its example sentences."""
        out = {}
        for name, examples in FIELD_EXAMPLES.items():
            mean = self.embedder.encode(examples, progress=False).mean(axis=0)
            out[name] = mean / np.linalg.norm(mean)
        return out

    def features(
        self,
        sentences: list[str],
        sections: list[str | None] | None = None,
        ordered: bool = True,
        title: str = "",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per sentence, features common to all fields (where it stands in the account, if
        ``ordered``, as a summary's sentences all stand in the middle; how much of the
        report's title it repeats), and per sentence and field, that field's own evidence:
        the reader's log-odds for its question, the likeness to its kind of statement, its
        words, the distance outside its usual place, a section heading that names it (and
        being that section's first sentence)."""
        n = len(sentences)
        sections = sections or [None] * n
        vectors = self.embedder.encode(sentences, progress=False)
        where = np.linspace(0.0, 1.0, n) if ordered else np.full(n, 0.5)
        first = np.array([i == 0 or sections[i] != sections[i - 1] for i in range(n)])
        own = []
        for name, question in QUESTIONS.items():
            lo, hi = USUAL_PLACE[name]
            headed = np.array([bool(sec and FIELD_HEADINGS[name].search(sec)) for sec in sections])
            own.append([
                np.clip(log_odds(self.reader.score(question, sentences)), -12, 12),
                vectors @ self.kinds[name],
                [bool(FIELD_CUES[name].search(s)) for s in sentences],
                np.maximum(0.0, np.maximum(lo - where, where - hi)),
                headed,
                headed & first,
            ])  # fmt: skip
        named = content_terms(title)  # the title names the condition, its test, its treatment
        common = [
            where,
            [len(named & content_terms(s)) / len(named) if named else 0.0 for s in sentences],
            [bool(re.search(r"\d", s)) for s in sentences],
            [np.log1p(len(s)) for s in sentences],
            [bool(DENIES.search(s)) for s in sentences],
            *[np.asarray(c, dtype=np.float64) for o in own for c in o[:4]],  # all fields'
        ]
        shared = np.column_stack([np.asarray(c, dtype=np.float64) for c in common])
        fields = np.array([[np.asarray(c, dtype=np.float64) for c in o] for o in own])
        return shared, fields.transpose(2, 0, 1)  # sentences x fields x own features

    def read_fields(
        self,
        sentences: list[str],
        sections: list[str | None] | None = None,
        ordered: bool = True,
        title: str = "",
    ) -> dict[str, CardField | None]:
        """Each field quotes the sentence the field model scores best for it, or stays empty
        when the field's "none" scores higher (``rag/card_model.py``)."""
        out: dict[str, CardField | None] = dict.fromkeys(QUESTIONS)
        if not sentences:
            return out
        chosen = self.model.choose(*self.features(sentences, sections, ordered, title))
        for name, row in chosen.items():
            if row is not None:
                quote = sentences[row]
                value = ", ".join(dict.fromkeys(SPINAL_LEVEL.findall(quote))) or None
                out[name] = CardField(value if name == "site" else None, quote)
        return out


def extract_cards(
    doc_id: str, title: str, chunks: list[Chunk], reader: FieldReader
) -> list[CaseCard]:
    """The cards of one report: none when it presents no patient (no stated age, no
    "the patient")."""
    read = document_sentences(chunks)
    if fragment(read) and not any(AGE.search(s) for _, s in read):
        return presented_case(doc_id, title, read, reader)
    groups = patients(read)
    cards: list[CaseCard] = []
    for n, group in enumerate(groups, start=1):
        sections = [sec for sec, _ in group]
        sentences = [s for _, s in group]
        age, sex = age_and_sex(sentences)
        if age is None and not any(A_PATIENT.search(x) for x in sentences):
            continue
        fields = {"age": age, "sex": sex, **reader.read_fields(sentences, sections, title=title)}
        ages = {age_of(m) for s in sentences for m in AGE.finditer(s)}
        several = len(groups) == 1 and len(ages) > 1
        cards.append(CaseCard(doc_id, title, n if len(groups) > 1 else 1, several, fields))
    return cards


def presented_case(
    doc_id: str, title: str, sentences: list[tuple[str | None, str]], reader: FieldReader
) -> list[CaseCard]:
    """The card of a fragment that tells nothing of its patient but the authors' framing:
    read from the sentence that presents the case ("We report ... tumoral calcinosis of the
    cervical spine in a patient with CREST syndrome") for what such a sentence states, the
    condition and, where the field model finds one, the site. The rest stays blank; read
    from the fragment's other sentences (general background), they were guesses."""
    presenting = next((s for sec, s in sentences if PRESENTS.search(s)), None)
    if presenting is None or OTHER_PATIENTS.search(presenting):
        return []
    read = reader.read_fields([presenting], ordered=False, title=title)
    fields = {
        "age": None,
        "sex": None,
        **{name: read[name] if name in PRESENTED_FIELDS else None for name in read},
    }
    fields["diagnosis"] = read["diagnosis"] or CardField(None, presenting)
    return [CaseCard(doc_id, title, 1, False, fields)]


def stage_cards(
    writer, new: list[tuple[Document, list[Chunk]]], reader: FieldReader, progress=None
) -> int:
    """Read the cards of new documents, and of indexed ones that this reader has not
    read yet, into the writer's next commit; returns how many documents were read."""
    version = reader.version
    todo = {doc.doc_id: (doc.title, chunks) for doc, chunks in new}
    unread = [] if writer.rebuild else unread_documents(writer.db, version)
    for doc_id in unread:
        if doc_id not in todo and doc_id not in writer.removing:
            todo[doc_id] = stored_chunks(writer.db, doc_id)
    for n, (doc_id, (title, chunks)) in enumerate(sorted(todo.items())):
        if progress:
            progress("reading cards", n, len(todo))
        writer.set_cards(doc_id, extract_cards(doc_id, title, chunks, reader), version)
    return len(todo)


def card_title(card: CaseCard) -> str:
    """A short title from a card ("57-year-old female, C4/5"), for a report whose file
    states no title; "" when the card gives neither age nor sex (a level alone is no title)."""
    age, sex, site = (card.fields.get(name) for name in ("age", "sex", "site"))
    if card.several:
        who = "Several patients"
    elif age and sex:
        who = f"{age.value}-year-old {sex.value}"
    elif age:
        who = f"{age.value}-year-old patient"
    elif sex:
        who = f"{str(sex.value).capitalize()} patient"
    else:
        return ""
    return ", ".join(part for part in (who, str(site.value) if site and site.value else "") if part)
