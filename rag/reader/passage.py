"""The shipped passage reader: how strongly each sentence of a passage holds the answer.

An extractive reader (``python -m rag.reader.train_span``) reads the question with the
whole passage, its section heading first, and gives every word piece a logit for "the
answer starts here" and one for "it ends here". A sentence's score is its best span
(start no later than end, both inside the sentence) less the no-answer span at
``[CLS]``: positive when the reader would rather answer from this sentence than say
"not here". Unlike the sentence reader, it sees each sentence among its neighbours and
under its heading, so this patient's fact and the Discussion's general statement of the
same topic read differently.
"""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.errors import RagError
from rag.reader.model import MODEL_DIR, onnx_session, pair_tokenizer

PASSAGE_FILE = "passage_qint8.onnx"
MAX_TOKENS = 384  # question + heading + passage; an index passage is at most 200
NO_SPAN = -20.0  # a sentence cut off by truncation: far below any span read
_lock = threading.Lock()
_readers: dict[str, PassageReader] = {}


class PassageReader:
    def __init__(self, model_dir: Path = MODEL_DIR):
        self.path = Path(model_dir) / PASSAGE_FILE
        self.model_dir = Path(model_dir)

    @cached_property
    def _session(self):
        if not self.path.exists():
            raise RagError(
                f"{self.path}: the passage reader is missing; train it with "
                "`python -m rag.reader.train_span` or set RAG_PASSAGE_WEIGHT=0."
            )
        return onnx_session(self.path)

    @cached_property
    def _tokenizer(self):
        return pair_tokenizer(self.model_dir, MAX_TOKENS)

    def score(
        self, question: str, passages: list[tuple[str, list[tuple[int, int]]]]
    ) -> list[np.ndarray]:
        """For each ``(text, sentence spans)``, each sentence's best span less no answer.

        The passages run in one batch: a question reads at most a handful.
        """
        if not passages:
            return []
        from rag.embedding import padded_feeds

        encodings = self._tokenizer.encode_batch([(question, text) for text, _ in passages])
        logits = self._session.run(None, padded_feeds(encodings))[0]
        return [
            sentence_scores(enc, logits[row], spans)
            for row, (enc, (_, spans)) in enumerate(zip(encodings, passages, strict=True))
        ]


def sentence_scores(encoding, logits: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Each span's best answer inside it (start logit + the best end logit at or after
    it), less the no-answer score (both logits at ``[CLS]``)."""
    n = len(encoding.ids)
    start, end = logits[:n, 0], logits[:n, 1]
    in_passage = np.array([s == 1 for s in encoding.sequence_ids])  # not the question
    offsets = np.array(encoding.offsets)
    inside = in_passage & (offsets[:, 1] > offsets[:, 0])
    none = start[0] + end[0]
    out = np.full(len(spans), NO_SPAN, dtype=np.float32)
    for i, (a, b) in enumerate(spans):
        tokens = np.flatnonzero(inside & (offsets[:, 0] >= a) & (offsets[:, 1] <= b))
        if len(tokens):
            best_end = np.maximum.accumulate(end[tokens][::-1])[::-1]
            out[i] = float((start[tokens] + best_end).max() - none)
    return out


def passage_reader_for(model_dir: str | Path = "") -> PassageReader:
    """One loaded passage reader per folder and process (empty: the shipped one)."""
    key = str(model_dir or MODEL_DIR)
    with _lock:
        if key not in _readers:
            _readers[key] = PassageReader(Path(key))
        return _readers[key]
