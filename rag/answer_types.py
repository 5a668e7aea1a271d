"""Expected answer types: a question that asks for an age, a dose or a spinal level is
answered only by a sentence that states one.

A bi-encoder scores a sentence by topic, so "How old was the patient?" is close to every
sentence about that patient. Classic question answering narrows the candidates by the
kind of answer the question asks for; this module does that for the fact types clinical
questions ask most, with one pattern for the question and one for the sentence. A
question of no listed type (why, what, yes/no) is left to the similarity scores alone.
Drug names, found by their USAN/INN stems, are the other thing a question needs its
evidence to share: no synonym stands in for "rituximab".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NUMBER_WORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
_NUMBER = (
    r"(?:\d+(?:\.\d+)?|" + NUMBER_WORDS + r"|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen"
    r"|nineteen|twenty)(?: and a half)?"
)
_UNIT_TIME = r"(?:minutes?|hours?|days?|weeks?|months?|years?)"
# What a duration is of: after "how long was the", these make it a time, not a size.
_TIME_NOUNS = (
    r"patient|child|infant|baby|woman|man|girl|boy|stay|course|admission|treatment"
    r"|therapy|follow(?:ed|-up)?|delay|interval|period|history|wait|illness|symptoms?"
    r"|surgery|operation|procedure|time|duration|gap|latency|hospitali[sz]ation|remission"
    r"|survival|recovery|infusion|regimen|episodes?|seizures?|labou?r|pregnancy|use|exposure"
    r"|anaesthesia|anesthesia|ventilation|intubation|fever|pain|session"
)
DRUG_BEFORE, DRUG_AFTER = 50, 80  # characters around a named drug where its fact may stand


@dataclass(frozen=True)
class AnswerType:
    name: str
    question: re.Pattern
    answer: re.Pattern
    phrase: str  # "an age": what the page says no passage states

    def stated_in(self, sentence: str, drugs: tuple[str, ...] = ()) -> bool:
        """Whether the sentence states this kind of fact; for a question that names drugs,
        next to one of them ("What dose of vancomycin?" is not answered by a sentence that
        names vancomycin and gives another drug's dose)."""
        if not drugs:
            return self.answer.search(sentence) is not None
        lower = sentence.lower()
        return any(
            self.answer.search(sentence, max(0, m.start() - DRUG_BEFORE), m.end() + DRUG_AFTER)
            for drug in drugs
            for m in re.finditer(re.escape(drug), lower)
        )


def _type(
    name: str, phrase: str, question: str, answer: str, answer_flags: int = re.I
) -> AnswerType:
    return AnswerType(name, re.compile(question, re.I), re.compile(answer, answer_flags), phrase)


# First match wins: lab values before spinal levels ("serum calcium levels"), sizes before
# durations ("how long was the spleen"), durations before counts ("how many weeks").
TYPES = (
    _type(
        "age",
        "an age",
        r"\bhow old\b|\bat what age\b|\bwhat (?:was|is|were|are) (?:the |her |his |their )?ages?\b",
        r"\b\d{1,3}[- ](?:year|month|week|day)s?[- ]old\b|\baged? \d{1,3}\b"
        r"|\b\d{1,3} (?:years?|yrs?) of age\b|\bage of \d{1,3}\b|\bat \d{1,3} years\b",
    ),
    _type(
        "dose",
        "a dose",
        r"\b(?:what|which) (?:\w+ ){0,3}(?:dose|dosage|doses)\b|\bhow much\b.*\b(?:given|dose)",
        r"\d+(?:\.\d+)?\s?(?:mg|g|mcg|µg|μg|ug|micrograms?|ng|ml|l|units?|iu|mmol|meq|gy)(?:/\w+)*\b",
    ),
    _type(
        "amount",
        "an amount",
        # Not "how much of the canal": a share, asked as a rate.
        r"\bhow much\b(?! of (?:the|her|his|its|their)\b)"
        r"|\bwhat (?:was|is|were) the (?:\w+ )?(?:volume|amount)\b|\bblood loss\b",
        r"\d+(?:\.\d+)?\s?(?:(?:ml|l|cc|dl|mg|g|kg|units?|mm|cm|ug|µg|μg|mcg|micrograms?|degrees?)\b|%|°)",
    ),
    _type(
        "lab value",
        "a laboratory value",
        r"\b(?:serum|plasma|blood|urine|urinary|csf)\b[\w\s,]*\b(?:levels?|concentrations?|values?)\b",
        r"\d+(?:\.\d+)?\s?(?:mg|g|mmol|µmol|μmol|umol|iu|u|meq|ng|pg)/(?:dl|l|ml)\b",
    ),
    _type(
        "rate",
        "a rate or percentage",
        r"\bwhat (?:percentage|proportion|fraction)\b|\bhow often\b|\b(?:incidence|prevalence) of\b"
        r"|\bwhat (?:is|was|are|were) the \w+ rates?\b|\bhow much of (?:the|her|his|its|their)\b"
        r"|\bhow common\b|\bwhat (?:is|was|are|were) the (?:\w+ ){0,2}"
        r"(?:sensitivity|specificity|risk|mortality)\b|\bwhat (?:\w+ ){0,2}mortality\b",
        r"\d+(?:\.\d+)?\s?%|\bper ?cent\b|\b\d+ (?:of|out of|in) \d[\d,]*\b"
        r"|\b(?:one|two|a) (?:thirds?|quarters?|fifths?|half)\b|\bhalf of\b",
    ),
    _type(
        "size",
        "a size",
        # "How long was the spleen?" asks a length; "How long was the stay?", a duration.
        r"\bhow (?:large|big|wide|thick|deep|tall)\b"
        r"|\bwhat (?:was |is |were )?(?:the |its )?(?:size|diameter|length|width)\b"
        r"|(?<!for )\bhow long (?:was|were|is|are) (?:the|her|his|its|their) "
        r"(?!(?:\w+ ){0,2}(?:" + _TIME_NOUNS + r")\b)",
        r"\d+(?:\.\d+)?\s?(?:mm|cm|m|fr|french|disc diameters?)\b",
    ),
    _type(
        "duration",
        "a duration",
        r"\bhow long\b|\bover what (?:time|period)|\bwhat (?:time frame|duration|period)\b"
        r"|\bhow many " + _UNIT_TIME + r"\b",
        # "a 57-year-old" is an age, not how long something lasted.
        r"\b" + _NUMBER + r"[- ]" + _UNIT_TIME + r"\b(?![- ]old\b)",
    ),
    _type(
        "spinal level",
        "a spinal level",
        r"\b(?:which|what|how many)\s+(?:\w+\s+){0,2}(?:levels?|vertebrae|segments?)\b"
        r"|\bhow far\b.*\b(?:extend|span|reach)",
        r"\b[CTLS]\d{1,2}\b",
        answer_flags=0,
    ),
    _type(
        "grade",
        "a grade or score",
        r"\b(?:what|which) (?:\w+ ){0,2}(?:grade|stage|class|score)\b",
        r"\b(?:grade|stage|class|score)\s*(?:of\s+)?(?:\d+|[A-E]|I{1,3}V?|IV|V)[A-C]?\b"
        r"|\b(?:ASIA|AIS)\s*[A-E]\b",
    ),
    _type(
        "strength",
        "a strength grade",
        # Muscle power, not a device's ("What power setting was used?").
        r"\bhow (?:strong|weak)\b|\bwhat (?:\w+ )?(?:strength|power)\b(?! setting| output)",
        r"\b[0-5](?:\+|-)?/5\b|\b\d+(?:\.\d+)? ?kg\b",
    ),
    _type(
        "count",
        "a number",
        r"\bhow many\b",
        # A number standing as a word: citation marks glued to text ("injury,14,15") are not.
        r"(?:(?<=\s)|^)(?:\d+|" + NUMBER_WORDS + r"|single|both|dozens?)(?=[\s-])",
    ),
    _type(
        "suture",
        "a suture",
        r"\b(?:what|which) (?:\w+ ){0,2}(?:sutures?|stitch(?:es)?)\b",
        # A gauge ("5-0"), a material by its generic or trade name, or the word itself: a
        # reader that never saw "Prolene" does not know it is one.
        r"\b\d-0\b|\b(?:prolene|polypropylene|vicryl|polyglactin|pds|polydioxanone|monocryl"
        r"|poliglecaprone|nylon|ethilon|silk|catgut|chromic|mersilene|ethibond|polyester)\b"
        r"|\bsutur|\bstitch",
    ),
)


_WH = re.compile(r"\b(?:what|which|how|when|where|who|whom|whose)\b", re.I)


# "What thallium level ...": an element's level is a laboratory value, not a spinal level.
_ELEMENT_LEVEL = re.compile(r"\b[a-z]+ium (?:levels?|concentrations?)\b", re.I)


def expected_type(question: str) -> AnswerType | None:
    """The kind of fact the question asks for, when it is one of ``TYPES``.

    A question with no wh-word ("Are serum lipid levels lower after surgery?") asks yes or
    no, whatever nouns it holds, so it expects no type. One that names a laboratory analyte
    or an element ("At what ALT level ...?") does not ask for a spinal level.
    """
    if not _WH.search(question):
        return None
    lab = bool(named_analytes(question) or _ELEMENT_LEVEL.search(question))
    kinds = (t for t in TYPES if not (lab and t.name == "spinal level"))
    return next((t for t in kinds if t.question.search(question)), None)


# USAN/INN stems of drug names (a well-known subset): a question about a drug that no
# retrieved passage names cannot be answered from those passages, however close in topic.
_DRUG = re.compile(
    r"\b[a-z]{2,}(?:mab|tinib|ciclib|parib|pril|sartan|olol|dipine|tiazem|statin|cillin"
    r"|mycin|micin|floxacin|cycline|conazole|prazole|vir|parin|xaban|gatran|fenac|profen"
    r"|coxib|olone|isone|asone|ortisone|dronate|trexate|platin|taxel|rubicin|tidine|setron"
    r"|triptan|gliptin|glitazone|gliflozin|lukast|(?:bu|mo|me|ca)terol|tropium|azepam|barbital|caine"
    r"|curonium|semide|thiazide|phosphonates?|sulfate|sulphate|(?:er|a|iber)cept|kinra"
    r"|mustine|tropine|arabine|grastim|poetin|reotide|afil|oxetine|triptyline|apine|peridol"
    r"|iracetam|toin|quine|domide|azole|nidazole|bactam|penem|vudine|fovir|ximab|zumab)\b"
    r"|\bcef[a-z]{2,}(?:one|ime|lin|xin|tin|ine)\b"  # cephalosporins by their prefix
    # common drugs that no stem finds
    r"|\b(?:atropine|teriparatide|tranexamic|radioiodine|statins?|warfarin|aspirin|morphine"
    r"|adrenaline|epinephrine|digoxin|colchicine|allopurinol|levothyroxine|propylthiouracil"
    r"|desmopressin|oxytocin|carboprost|misoprostol|terbutaline|salbutamol)\b",
    re.I,
)


def named_drugs(question: str) -> list[str]:
    """Words of the question that look like drug names, lower-cased, singular."""
    return [m.group().lower().removesuffix("s") for m in _DRUG.finditer(question)]


def _compiled(names: dict[str, str]) -> dict[str, re.Pattern]:
    return {name: re.compile(pattern) for name, pattern in names.items()}


def _named(names: dict[str, re.Pattern], text: str) -> list[str]:
    """The names in ``names`` whose pattern the text matches, in their order."""
    return [name for name, pattern in names.items() if pattern.search(text)]


# Laboratory analytes, each with the names a report gives it (abbreviations by their case):
# a question about ferritin that no retrieved passage names is not answered by passages
# that give other values, however close in topic.
ANALYTES = _compiled(
    {
        "creatinine": r"(?i:creatinine)",
        "urea": r"(?i:\burea\b|blood urea nitrogen)|\bBUN\b",
        "sodium": r"(?i:\bsodium\b|\bnatraemi|\bnatremi)|\bNa\b",
        "potassium": r"(?i:potassium|kalaemi|kalemi)|\bK\+",
        "calcium": r"(?i:\bcalcium\b|calcaemi|calcemi)|\bCa\b",
        "phosphate": r"(?i:phosphate|phosphorus|phosphataemi|phosphatemi)",
        "magnesium": r"(?i:magnesium|magnesaemi|magnesemi)|\bMg\b",
        "glucose": r"(?i:glucose|glycaemi|glycemi)",
        "HbA1c": r"(?i:glycated ha?emoglobin|\bhba1c\b|\ba1c\b)",
        "haemoglobin": r"(?i:\bha?emoglobin\b)|\bHb\b|\bHgb\b",
        "platelets": r"(?i:platelet|thrombocyt)|\bPLT\b",
        "white cells": r"(?i:white (?:blood )?cell|leuc?ocyt|leukocyt)|\bWBC\b|\bWCC\b",
        "neutrophils": r"(?i:neutrophil)|\bANC\b",
        "lymphocytes": r"(?i:lymphocyt|lymphopeni)",
        "eosinophils": r"(?i:eosinophil)",
        "reticulocytes": r"(?i:reticulocyt)",
        "CRP": r"(?i:c-reactive protein)|\bCRP\b",
        "ESR": r"(?i:sedimentation rate)|\bESR\b",
        "procalcitonin": r"(?i:procalcitonin)|\bPCT\b",
        "ferritin": r"(?i:ferritin)",
        "albumin": r"(?i:albumin)",
        "bilirubin": r"(?i:bilirubin)",
        "ALT": r"(?i:alanine (?:amino)?transaminase|alanine aminotransferase)|\bALT\b",
        "AST": r"(?i:aspartate (?:amino)?transaminase|aspartate aminotransferase)|\bAST\b",
        "ALP": r"(?i:alkaline phosphatase)|\bALP\b",
        "GGT": r"(?i:gamma-glutamyl)|\bGGTP?\b",
        "lactate": r"(?i:\blactate\b|\blactic acid)",
        "LDH": r"(?i:lactate dehydrogenase)|\bLDH\b",
        "CK": r"(?i:creatine (?:phospho)?kinase)|\bCP?K\b",
        "troponin": r"(?i:troponin)|\bcTn[IT]?\b",
        "BNP": r"(?i:natriuretic peptide)|\b(?:NT-?pro)?BNP\b",
        "D-dimer": r"(?i:d-dimer)",
        "INR": r"(?i:international normali[sz]ed ratio|prothrombin time)|\bINR\b",
        "TSH": r"(?i:thyroid[- ]stimulating hormone|thyrotropin)|\bTSH\b",
        "cortisol": r"(?i:cortisol)",
        "PTH": r"(?i:parathyroid hormone|parathormone)|\bPTH\b",
        "vitamin B12": r"(?i:vitamin b12|cobalamin)|\bB12\b",
        "folate": r"(?i:folate|folic acid)",
        "vitamin D": r"(?i:vitamin d\b|hydroxyvitamin d|calcidiol)",
        "IgE": r"\bIgE\b",
        "IgG": r"\bIgG\d?\b",
        "IgA": r"\bIgA\b",
        "IgM": r"\bIgM\b",
        "ammonia": r"(?i:ammonia)",
        "lipase": r"(?i:lipase)",
        "amylase": r"(?i:amylase)",
        "PSA": r"(?i:prostate-specific antigen)|\bPSA\b",
        "AFP": r"(?i:alpha-fetoprotein|α-fetoprotein)|\bAFP\b",
        "CEA": r"(?i:carcinoembryonic antigen)|\bCEA\b",
    }
)


# Tests, treatments and devices, each with the names a report gives it: a question on a
# halo vest or on gamma knife radiosurgery is not answered by passages that give the
# patient's collar or operation, however close in topic. Only things a report names when
# it did them: "surgery" or "chemotherapy" it may give by the operation or the regimen.
PROCEDURES = _compiled(
    {
        "radiosurgery": r"(?i:gamma knife|radiosurg|stereotactic radio|cyberknife)",
        "radiotherapy": r"(?i:radiotherap|radiation|irradiat|chemoradi|brachytherap)",
        "plasma exchange": r"(?i:plasma exchange|plasmapheresis)|\bPLEX\b|\bTPE\b",
        "immunoglobulin": r"(?i:immunoglobulin)|\bIVIg\b|\bIVIG\b",
        "ECMO": r"(?i:extracorporeal membrane)|\bECMO\b",
        "dialysis": r"(?i:dialys|diafiltration|haemofiltration|hemofiltration|renal replacement"
        r"|venovenous)|\bCRRT\b|\bCVVH|\bHD\b",
        "intubation": r"(?i:intubat|ventilat)",
        "tracheostomy": r"(?i:tracheostom)",
        "lumbar drain": r"(?i:lumbar (?:cerebrospinal fluid |CSF )?drain)",
        "halo": r"(?i:\bhalo\b)",
        "pacemaker": r"(?i:pacemaker|pacing)",
        "defibrillator": r"(?i:defibrillator)|\bS?ICD\b",
        "bone densitometry": r"(?i:densitometr|bone (?:mineral )?density|t-score)"
        r"|\bDE?XA\b|\bBMD\b",
        "HIV": r"(?i:human immunodeficiency)|\bHIV\b",
        "hepatitis B": r"(?i:hepatitis b)|\bHBsAg\b|\bHBV\b",
        "hepatitis C": r"(?i:hepatitis c)|\bHCV\b",
        "PET": r"(?i:positron)|\bPET\b",
        "transfusion": r"(?i:transfus|(?:units?|ml/kg) of (?:packed )?red)",
        "genetic testing": r"(?i:genetic|genotyp|mutation|sequencing|karyotyp|\bgene\b)",
        "colonoscopy": r"(?i:colonoscop|sigmoidoscop)",
        "bronchoscopy": r"(?i:bronchoscop|bronchoalveolar)|\bBAL\b",
        "EEG": r"(?i:electroencephalogra)|\bv?EEG\b",
        "electromyography": r"(?i:electromyogra|nerve conduction|neurophysiolog)|\bEMG\b|\bNCS\b",
        "echocardiography": r"(?i:echocardiogra|\becho\b)|\bTTE\b|\bTO?EE?\b",
        "autopsy": r"(?i:autops|post-?mortem|necrops)",
        "vaccination": r"(?i:vaccin|immunis|immuniz)",
        "physiotherapy": r"(?i:physiotherap|rehabilitat|physical therap)",
        "hyperbaric oxygen": r"(?i:hyperbaric)",
        "endobronchial valve": r"(?i:endobronchial valve)",
        "24-hour urine": r"(?i:24[- ]?h(?:our)? urin|urine collection)",
    }
)


def named_analytes(question: str) -> list[str]:
    """The laboratory analytes the question names, by their names in ``ANALYTES``."""
    return _named(ANALYTES, question)


def named_procedures(question: str) -> list[str]:
    """The tests, treatments and devices the question names, by their names in
    ``PROCEDURES``."""
    return _named(PROCEDURES, question)
