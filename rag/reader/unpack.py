"""A trainable checkpoint from a shipped int8 reader: ``--base rag/reader/model``.

Only the int8 ONNX ships (the torch checkpoints of the training runs are build outputs,
not in the repository), so a maintainer who clones the repository can continue training
the shipped reader only from it. Every weight is dequantised (``(q - zero) * scale``) into
the bundled MiniLM's BERT layout with a one-logit head: the result computes what the
shipped model computes, up to the rounding of activations that int8 inference adds. A
smoothed layer's weight rows are divided back by their scales (``rag.reader.smoothing``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from rag.reader.model import MODEL_FILE
from rag.reader.smoothing import inverse_scales

_PREFIX = "inner."  # the exporter wraps the model: inner.bert..., inner.classifier...
_MATMUL_OUTPUT = re.compile(r"^/inner/(.+)/MatMul_output_0")


def _dequantised(inits: dict, stem: str) -> np.ndarray:
    from onnx import numpy_helper

    def value(suffix: str) -> np.ndarray:
        return numpy_helper.to_array(inits[stem + suffix])

    q = value("_quantized").astype(np.float32)
    return (q - value("_zero_point").astype(np.float32)) * value("_scale").astype(np.float32)


def state_dict_from_onnx(path: Path) -> dict[str, np.ndarray]:
    """HF parameter name -> fp32 array, from the int8 graph of ``calibration._export``."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    inits = {i.name: i for i in graph.initializer}
    state: dict[str, np.ndarray] = {}
    for name, init in inits.items():
        if name.startswith(_PREFIX) and not name.endswith(("_scale", "_zero_point", "_quantized")):
            state[name.removeprefix(_PREFIX)] = numpy_helper.to_array(init).astype(np.float32)
        elif name.startswith(_PREFIX) and name.endswith("_quantized") and "embeddings" in name:
            stem = name.removesuffix("_quantized")
            state[stem.removeprefix(_PREFIX)] = _dequantised(inits, stem)
    made_by = {out: node for node in graph.node for out in node.output}
    for node in graph.node:  # a Linear layer: its weight is named by the node's output
        if node.op_type != "MatMulInteger":
            continue
        # x -> Mul(1/s) -> DynamicQuantizeLinear -> MatMulInteger: the rows hold s
        inverse = inverse_scales(inits, made_by[node.input[0]].input[0])
        rows = 1.0 if inverse is None else inverse[:, None]
        stem = node.input[1].removesuffix("_quantized")
        if stem.startswith(_PREFIX):  # inner.classifier.weight_Transposed
            name = stem.removeprefix(_PREFIX).removesuffix("_Transposed")
        else:  # onnx::MatMul_720, named by its output: /inner/bert/.../query/MatMul_output_0
            match = _MATMUL_OUTPUT.match(node.output[0])
            if not match:
                continue
            name = match.group(1).replace("/", ".") + ".weight"
        state[name] = (_dequantised(inits, stem) * rows).T.copy()  # [in, out] -> [out, in]
    return state


def checkpoint_from_onnx(model_dir: Path, out: Path) -> Path:
    """Write a transformers checkpoint of the reader in ``model_dir`` to ``out``."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from rag.config import bundled_model_dir

    base = bundled_model_dir()
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base), num_labels=1, local_files_only=True
    )
    state = state_dict_from_onnx(Path(model_dir) / MODEL_FILE)
    wanted = model.state_dict()
    missing = [k for k in wanted if k not in state and not k.endswith("position_ids")]
    if missing:
        raise ValueError(f"{model_dir}: no weights in the ONNX graph for {missing[:5]}")
    model.load_state_dict(
        {k: torch.from_numpy(v) for k, v in state.items() if k in wanted}, strict=False
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(base), local_files_only=True).save_pretrained(out)
    return out
