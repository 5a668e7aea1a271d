"""Sentence-transformers embeddings from a local model folder, loaded once, no network.

Three backends give the same vectors (up to rounding) at different speeds on CPU:

- ``torch``: ``SentenceTransformer.encode`` (the reference).
- ``onnx``: the model's transformer exported to ONNX (fp32) and run by ONNX Runtime.
- ``onnx-int8`` (the default): that export with dynamic int8 quantisation of its MatMul
  weights (cosine > 0.98 to torch; fp32 ONNX matches torch to 1e-6). Activations are
  quantised with a scale computed over the whole input tensor at run time, so a text
  batched with others would get a vector that depends on its batch mates. This backend
  therefore runs one text per call: a text always gets the same vector, whether it is
  embedded alone, in a Ray shard or in a full rebuild. Measured on SciFact passages,
  one text per call is as fast as batches of 8 sorted by length (there is no padding).

The ONNX files are exported locally from the model folder on first use (no network)
and cached outside the package (``$RAG_ONNX_CACHE``, default ``~/.cache/caseqa/onnx``),
in a folder named after the model fingerprint, so a changed model never reuses them.
sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, whose only
release pins ``transformers<4.58`` (we run transformers 5), hence the direct route.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.config import IndexSettings
from rag.errors import RagError

BACKENDS = ("torch", "onnx", "onnx-int8")
ONNX_OPSET = 17
_lock = threading.RLock()  # re-entered: loading a model may export it first
_models: dict[tuple[str, str, str], object] = {}


def model_id(model_dir: Path) -> str:
    """A readable id plus a fingerprint of the folder's config and weights size.

    Computed from files only, so commands that just check an index need not import torch.
    """
    if not (model_dir / "modules.json").exists() and not (model_dir / "config.json").exists():
        raise RagError(f"{model_dir}: not a sentence-transformers model folder")
    digest = hashlib.sha1()
    for name in ("config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json"):
        if (model_dir / name).exists():
            digest.update((model_dir / name).read_bytes())
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        digest.update(str(weights.stat().st_size).encode())
    name = model_dir.name if model_dir.name != "model" else model_dir.parent.name
    return f"{name}@{digest.hexdigest()[:12]}"


def model_dimension(model_dir: Path) -> int:
    pooling = model_dir / "1_Pooling" / "config.json"
    if pooling.exists():
        return int(json.loads(pooling.read_text())["word_embedding_dimension"])
    return int(json.loads((model_dir / "config.json").read_text())["hidden_size"])


def onnx_cache_root() -> Path:
    """Where exported ONNX models live: never inside the installed package."""
    if os.environ.get("RAG_ONNX_CACHE"):
        return Path(os.environ["RAG_ONNX_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "caseqa" / "onnx"


class Embedder:
    """L2-normalised float32 vectors; the underlying model is shared per process."""

    def __init__(
        self,
        model_dir: Path,
        device: str = "cpu",
        batch_size: int = 32,
        backend: str = "onnx-int8",
    ):
        if backend not in BACKENDS:
            raise RagError(f"Unknown embedding backend {backend!r}: use one of {BACKENDS}.")
        self.model_dir = Path(model_dir)
        self.device = device
        self.batch_size = batch_size
        self.backend = backend
        self.model_id = model_id(self.model_dir)
        self.dimension = model_dimension(self.model_dir)

    @cached_property
    def model(self):
        """The SentenceTransformer (torch) or an ``OnnxEncoder``, loaded once per process."""
        key = (str(self.model_dir), self.device, self.backend)
        with _lock:
            if key not in _models:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                if self.backend == "torch":
                    from sentence_transformers import SentenceTransformer

                    _models[key] = SentenceTransformer(
                        str(self.model_dir), device=self.device, local_files_only=True
                    )
                else:
                    quantized = self.backend == "onnx-int8"
                    path = onnx_model_path(self.model_dir, quantized=quantized)
                    _models[key] = OnnxEncoder(
                        self.model_dir, path, self.device, batch_independent=quantized
                    )
            return _models[key]

    def encode_query(self, text: str) -> np.ndarray:
        """One question's vector, cached: retrieval and answering both need it."""
        return self._query_cache(text)

    @cached_property
    def _query_cache(self):
        from functools import lru_cache

        return lru_cache(maxsize=512)(lambda t: self.encode([t], progress=False)[0])

    def local(self) -> Embedder:
        """The embedder for work that is not the index's own vectors (case cards): this
        one, unless it answers from elsewhere (``rag.distributed.ShardEmbedder``)."""
        return self

    def encode(self, texts: list[str], progress: bool | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        show = len(texts) >= 256 if progress is None else progress
        if self.backend != "torch":
            return self.model.encode(texts, self.batch_size, show)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


# -- ONNX ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pooling:
    """What the model folder's pooling and normalisation modules ask for."""

    mode: str  # "mean" | "cls"
    normalize: bool

    @classmethod
    def of(cls, model_dir: Path) -> Pooling:
        config = model_dir / "1_Pooling" / "config.json"
        mode = "mean"
        if config.exists():
            c = json.loads(config.read_text())
            if c.get("pooling_mode_cls_token"):
                mode = "cls"
            elif not c.get("pooling_mode_mean_tokens", True):
                raise RagError(f"{model_dir}: only mean or CLS pooling runs on the ONNX backend")
        modules = model_dir / "modules.json"
        normalize = modules.exists() and "Normalize" in modules.read_text()
        return cls(mode, normalize)


def max_seq_length(model_dir: Path) -> int:
    config = model_dir / "sentence_bert_config.json"
    return int(json.loads(config.read_text())["max_seq_length"]) if config.exists() else 256


class OnnxEncoder:
    """Tokenise, sort by token count, pad per batch, run ONNX Runtime, pool, normalise.

    Sorting by the exact token count (not characters) keeps padding per batch minimal;
    output order is the input order. ``batch_independent`` runs one text per call, for
    models whose activations are quantised per input tensor (see the module docstring).
    """

    def __init__(
        self,
        model_dir: Path,
        onnx_path: Path,
        device: str = "cpu",
        batch_independent: bool = False,
    ):
        ort = _import_ort()
        from tokenizers import Tokenizer

        self.pooling = Pooling.of(model_dir)
        self.max_seq_length = max_seq_length(model_dir)  # as SentenceTransformer names it
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_seq_length)
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise RagError(
                    "The ONNX backend on a GPU needs onnxruntime-gpu; install it, or use "
                    "the torch backend with --device cuda."
                )
            providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle threads sleep instead of spinning: a question's encoding is followed at once
        # by the answer reader's own session, which the spinning threads would slow down.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), options, providers=providers)
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.path = onnx_path
        self.batch_independent = batch_independent

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if self.batch_independent:
            batch_size = 1
        encodings = self.tokenizer.encode_batch(list(texts))
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        out = np.empty((len(texts), self.session.get_outputs()[0].shape[-1]), dtype=np.float32)
        starts = range(0, len(order), batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Batches")
        for start in starts:
            idx = order[start : start + batch_size]
            out[idx] = self._run([encodings[i] for i in idx])
        return out

    def _run(self, batch) -> np.ndarray:
        feeds = padded_feeds(batch)
        mask = feeds["attention_mask"]
        hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in self.input_names})
        hidden = hidden[0]
        if self.pooling.mode == "cls":
            pooled = hidden[:, 0]
        else:
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        if self.pooling.normalize:
            pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled.astype(np.float32)


def padded_feeds(batch) -> dict[str, np.ndarray]:
    """ONNX inputs for a batch of ``tokenizers`` encodings, padded to the longest."""
    width = max(len(e.ids) for e in batch)
    ids = np.zeros((len(batch), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for row, e in enumerate(batch):
        n = len(e.ids)
        ids[row, :n] = e.ids
        mask[row, :n] = 1
        types[row, :n] = e.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _import_ort():
    try:
        import onnxruntime

        return onnxruntime
    except ImportError as exc:
        raise RagError(
            "The ONNX embedding backends need onnxruntime and onnx (dependencies of "
            "caseqa: reinstall it), or set RAG_BACKEND=torch."
        ) from exc


def onnx_model_path(model_dir: Path, quantized: bool, cache_root: Path | None = None) -> Path:
    """The cached ONNX file for this model folder, exported (and quantised) if missing."""
    folder = Path(cache_root or onnx_cache_root()) / model_id(Path(model_dir)).replace("@", "-")
    fp32 = folder / "model.onnx"
    int8 = folder / "model_qint8.onnx"
    with _lock:
        if not fp32.exists():
            _atomic_write(fp32, lambda tmp: export_onnx(Path(model_dir), tmp))
        if quantized and not int8.exists():
            _atomic_write(int8, lambda tmp: quantize_onnx(fp32, tmp))
    return int8 if quantized else fp32


def _atomic_write(target: Path, make) -> None:
    """Build in a temporary folder beside ``target``, then rename: a crash leaves no half file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(dir=target.parent, prefix=".export-"))
    try:
        tmp = tmp_dir / target.name
        make(tmp)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def export_onnx(model_dir: Path, target: Path) -> None:
    """Trace the Hugging Face transformer (token ids -> last hidden state) into one ONNX file.

    Pooling and normalisation stay in numpy so the graph is the plain encoder that
    ONNX Runtime's transformer fusions recognise. Eager attention traces cleanly.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel

    model = AutoModel.from_pretrained(
        str(model_dir), local_files_only=True, attn_implementation="eager"
    ).eval()
    trace_to_onnx(model, "last_hidden_state", target)
    fuse_transformer(model_dir, target)


def trace_to_onnx(model, output: str, target: Path) -> None:
    """Trace a Hugging Face BERT-style model (token ids -> ``model(...).<output>``)."""
    import torch

    class Traced(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return getattr(out, output)

    example = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    # Tracer warnings about the attention mask's Python-side checks are expected: the
    # test suite compares the export with torch on lengths from 3 to 256 word pieces.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Traced(model),
            (example, example, torch.zeros_like(example)),
            str(target),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=[output],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                output: {0: "batch"} if output == "logits" else axes,
            },
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def fuse_transformer(model_dir: Path, path: Path) -> None:
    """Fuse attention, GELU and layer norms into ONNX Runtime's BERT kernels, in place.

    Measured on the bundled MiniLM: fp32 about 1.3x faster; BERT-family models only
    (others keep the plain graph, which ONNX Runtime still optimises when loading).
    """
    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") not in {"bert", "roberta", "distilbert", "xlm-roberta"}:
        return
    from onnxruntime.transformers.optimizer import optimize_model

    fused = optimize_model(
        str(path),
        model_type="bert",
        num_heads=int(config["num_attention_heads"]),
        hidden_size=int(config["hidden_size"]),
    )
    fused.save_model_to_file(str(path))


def quantize_onnx(fp32: Path, target: Path, op_types: tuple[str, ...] = ("MatMul",)) -> None:
    """Dynamic int8 quantisation (weights per channel, activations per batch at run time).

    By default only MatMul weights are quantised: they are nearly all the compute; the
    embedding table (Gather) stays fp32, which keeps vectors closest to the torch model's.
    """
    _import_ort()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=list(op_types),
        # Fused contrib ops hide some tensor types from shape inference: they are float.
        extra_options={"DefaultTensorType": 1},
    )


def embedder_for(index: IndexSettings) -> Embedder:
    """The Embedder the index settings ask for (``Settings.index``)."""
    return Embedder(index.model_path, index.device, index.batch_size, index.backend)
