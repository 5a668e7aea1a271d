"""The shipped answer reader: P(sentence answers the question), run by ONNX Runtime.

The model is a cross-encoder trained by ``python -m rag.reader.train`` and shipped in
``rag/reader/model/`` (int8 ONNX, tokenizer, calibrated threshold, model card), so
nothing is fetched and no index needs rebuilding to use it. A question's
candidates run in batches of similar length: dynamic int8 quantisation scales
activations over the whole batch, so a candidate's probability can move in the third
decimal with its batch mates (the same candidates always get the same probabilities).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.errors import RagError

MODEL_DIR = Path(__file__).resolve().parent / "model"
MODEL_FILE = "reader_qint8.onnx"
ANSWERING_FILE = "answering.json"
READER_FILE = "reader.json"  # how the model reads: {"context": true} adds the previous sentence
CONTEXT_SEP = " [SEP] "  # between a sentence and the one before it, as the reader reads them
MAX_TOKENS = 128  # question + sentence word pieces; a longer sentence is cut at the end
BATCH = 8  # pairs per call, sorted by length
_lock = threading.Lock()
_readers: dict[tuple[str, str], Reader] = {}


class Reader:
    """Scores (question, sentence) pairs; ``threshold`` is where it starts to answer."""

    def __init__(self, model_dir: Path = MODEL_DIR, model_file: str = MODEL_FILE):
        path = Path(model_dir) / model_file
        if not path.exists():
            raise RagError(
                f"{path}: the answer reader is missing; train it with "
                "`python -m rag.reader.train` or set RAG_READER=false."
            )
        self.model_dir = Path(model_dir)
        self.path = path

    @cached_property
    def _session(self):
        return onnx_session(self.path)

    @cached_property
    def _tokenizer(self):
        return pair_tokenizer(self.model_dir, MAX_TOKENS)

    @cached_property
    def version(self) -> str:
        """A fingerprint of the weights and threshold: cards read by another reader are
        read again."""
        digest = hashlib.sha256(self.path.read_bytes())
        calibration = self.model_dir / "calibration.json"
        if calibration.exists():
            digest.update(calibration.read_bytes())
        return digest.hexdigest()[:16]

    @cached_property
    def reads_context(self) -> bool:
        """Whether the model was trained to read each sentence followed by the one before
        it ("her score was 1" is the Rankin score only in the light of its neighbour)."""
        marker = self.model_dir / READER_FILE
        return marker.exists() and bool(json.loads(marker.read_text()).get("context"))

    @cached_property
    def threshold(self) -> float:
        """The probability below which the answerer abstains (calibrated on validation)."""
        calibration = self.model_dir / "calibration.json"
        return float(json.loads(calibration.read_text())["threshold"])

    @cached_property
    def answering(self) -> dict:
        """How the answerer uses this reader, fitted on the validation split run through
        the whole pipeline (``python -m rag.eval.calibrate``): the abstention threshold and
        the similarity score's weight. Without that file: this threshold, the reader alone."""
        fitted = self.model_dir / ANSWERING_FILE
        if fitted.exists():
            return json.loads(fitted.read_text())
        return {"threshold": self.threshold, "similarity_weight": 0.0}

    def score(
        self, question: str, sentences: list[str], contexts: list[str] | None = None
    ) -> np.ndarray:
        """Probability that each sentence answers the question, in input order; with
        ``contexts`` (the sentence before each, or ""), read beside them if the model
        reads context.

        A sentence repeated (overlapping passages) is read once; pairs run in batches of
        similar length, so that a long sentence does not pad every other pair to its size.
        """
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        from rag.embedding import padded_feeds

        if contexts is not None and self.reads_context:
            sentences = [with_context(s, c) for s, c in zip(sentences, contexts, strict=True)]
        unique = list(dict.fromkeys(sentences))
        encodings = self._tokenizer.encode_batch([(question, s) for s in unique])
        order = sorted(range(len(unique)), key=lambda i: len(encodings[i].ids))
        logits = np.empty(len(unique), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            idx = order[start : start + BATCH]
            feeds = padded_feeds([encodings[i] for i in idx])
            logits[idx] = self._session.run(None, feeds)[0].reshape(-1)
        by_sentence = dict(zip(unique, probability(logits), strict=True))
        return np.array([by_sentence[s] for s in sentences], dtype=np.float32)


def onnx_session(path: Path):
    """An ONNX Runtime session for a reader on the CPU."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Two threads halve a question's scoring on this 2-core CPU (development questions'
    # candidates, batches of 8: p50 151-161 ms on one thread, 84-90 ms on two); capped
    # at 4, since a question's pairs are few (not measured above 2 cores).
    options.intra_op_num_threads = min(4, os.cpu_count() or 1)
    # Idle threads sleep instead of spinning: the sentence reader and the passage reader
    # run one after the other, and one's spinning threads would slow the other down.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def pair_tokenizer(model_dir: Path, max_tokens: int):
    """The reader's tokenizer for (question, text) pairs, unpadded, cutting the text."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_tokens, strategy="only_second")
    return tokenizer


def with_context(sentence: str, context: str) -> str:
    """What a context-reading model reads for a sentence: the sentence first, so that
    truncation cuts the neighbour, not the candidate."""
    return f"{sentence}{CONTEXT_SEP}{context}" if context else sentence


def probability(log_odds_value) -> np.ndarray:
    """Log-odds back to a probability (the inverse of :func:`log_odds`)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(log_odds_value)))


def log_odds(probability) -> np.ndarray:
    """The reader's probabilities back on its log-odds scale, where other evidence adds."""
    p = np.clip(np.asarray(probability, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def reader_for(model_dir: str | Path = "", model_file: str = MODEL_FILE) -> Reader:
    """One loaded reader per model file and process (``model_dir`` empty: the shipped one)."""
    key = (str(model_dir or MODEL_DIR), model_file)
    with _lock:
        if key not in _readers:
            _readers[key] = Reader(Path(key[0]), model_file)
        return _readers[key]
