"""Optional Ray Data path: embed a corpus on many workers, then let sync load the vectors.

Embedding is nearly all of indexing time, and it is embarrassingly parallel; everything
else (parsing, cleaning, chunking, writing) stays the ordinary single-process sync.

1. ``plan``: list the exact texts sync will embed (chunk texts with their prefix, and
   each distinct quotable sentence), by running sync's own loading and chunking steps.
2. ``embed``: ``ray.data.from_items(texts).map_batches(EmbedActor, concurrency=N)``;
   each actor loads the model once and writes ``key, vector`` rows to Parquet shards.
3. ``index``: the real ``rag.indexing.sync`` with a ``ShardEmbedder``, which takes each
   text's vector from the shards by its key and embeds locally only what is missing.

Shard format (a folder): ``manifest.json`` (``model_id``, ``dimension``, ``backend``,
``normalized``, ``count``) and ``*.parquet`` files with two columns: ``key`` = the
first 16 bytes of SHA-256 of the UTF-8 text (binary), ``vector`` = float32 little-endian
bytes of the L2-normalised vector. Keys depend on the text only, so shards stay valid
for any corpus holding that text, and a plan that drifts from sync only costs local
embedding of the misses, never a wrong vector. A shard set made by another model is
refused (its ``model_id`` differs).

Multi-node (README): on the head ``ray start --head --port=6379``; on each worker
``ray start --address=HEAD_IP:6379`` (same venv and model package); then on the head
``python -m rag.distributed embed corpus/ --out /shared/emb --address auto
--concurrency 8`` with ``--out`` on storage every node can write, and
``python -m rag.distributed index corpus/ --embeddings /shared/emb`` (after integration:
``rag index corpus/ --embeddings /shared/emb``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.config import IndexSettings, load_settings
from rag.embedding import BACKENDS, Embedder, model_dimension, model_id
from rag.errors import RagError, run_as_script

MANIFEST = "manifest.json"
KEY_BYTES = 16


def text_key(text: str) -> bytes:
    """The shard key of one embedded text (16 bytes of SHA-256: collisions are negligible)."""
    return hashlib.sha256(text.encode("utf-8")).digest()[:KEY_BYTES]


# -- 1. plan: the texts sync will embed ---------------------------------------------------------
def plan_texts(paths: list[Path], index: IndexSettings) -> list[str]:
    """Chunk texts (with prefix) and distinct quotable sentences, in sync's order.

    Loads with sync's functions (corpus-wide boilerplate detection included) and lists
    what ``rag.staging.embed_staged`` will embed; files that fail to load are skipped. It
    does not repeat sync's skipping of same-content and same-article duplicates, so with
    such files the plan may hold texts sync never asks for, and the boilerplate it finds
    may differ; a text the plan missed is embedded locally by sync (a miss, never a wrong
    vector).
    """
    from rag.chunking import TokenCounter
    from rag.ingest import load_document, read_blocks, supported
    from rag.ingest.catalog import read_catalog
    from rag.ingest.clean import common_line_keys, line_keys
    from rag.ingest.files import list_files
    from rag.staging import index_spec, planned_texts, stage

    paths = [p.resolve() for p in paths]
    catalog: dict[str, dict] = {}
    for folder in {p if p.is_dir() else p.parent for p in paths}:
        catalog.update(read_catalog(folder))
    raws = []
    for f in list_files(paths):
        if supported(f):
            try:
                raws.append((f, read_blocks(f)))
            except RagError:
                continue
    line_sets = [line_keys("\n".join(s.text for s in blocks[1])) for _, blocks in raws]
    common = common_line_keys(line_sets)
    spec = index_spec(index)
    counter = TokenCounter(index.model_path)
    staged = []
    for f, blocks in raws:
        try:
            doc = load_document(f, catalog.get(f.name), common, blocks=blocks)
        except RagError:
            continue
        staged.append(stage(doc, spec, counter))
    return planned_texts(staged, spec)


# -- 2. embed: Ray Data actor pool ---------------------------------------------------------------
class EmbedActor:
    """One model per actor, loaded once; turns a batch of texts into key/vector rows."""

    def __init__(self, model_dir: str, backend: str, device: str, batch_size: int):
        self.embedder = Embedder(Path(model_dir), device, batch_size, backend)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        vectors = self.embedder.encode([str(t) for t in batch["text"]], progress=False)
        return {
            "key": [text_key(str(t)) for t in batch["text"]],
            "vector": [np.ascontiguousarray(v, dtype="<f4").tobytes() for v in vectors],
        }


@dataclass
class EmbedReport:
    texts: int
    seconds: float
    shards: int
    out: str


def embed_with_ray(
    texts: list[str],
    out: Path,
    index: IndexSettings,
    concurrency: int = 2,
    batch_size: int = 256,
    address: str | None = None,
    num_cpus: int | None = None,
) -> EmbedReport:
    """Embed ``texts`` on a Ray actor pool into Parquet shards under ``out``.

    ``address`` joins a running cluster (``auto`` or ``HOST:PORT``); without it Ray
    starts a local one on this machine. ``batch_size`` is rows per Ray batch; the model,
    its backend and its own batch size come from ``index`` (``Settings.index``).
    """
    try:
        import ray
    except ImportError as exc:
        raise RagError(
            "The distributed path needs Ray: `pip install 'caseqa[distributed]'`."
        ) from exc
    unique = list(dict.fromkeys(texts))
    out = Path(out)
    if out.exists() and any(out.glob("*.parquet")):
        raise RagError(f"{out} already holds shards: choose an empty folder.")
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    owns = not ray.is_initialized()
    if owns:
        ray.init(
            address=address,
            num_cpus=num_cpus if address is None else None,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        _embed_to_parquet(ray, unique, out, index, concurrency, batch_size)
    finally:
        if owns:
            ray.shutdown()
    (out / MANIFEST).write_text(json.dumps(_shard_manifest(index, len(unique)), indent=2))
    return EmbedReport(
        len(unique),
        round(time.perf_counter() - started, 2),
        len(list(out.glob("*.parquet"))),
        str(out),
    )


def _embed_to_parquet(
    ray, texts: list[str], out: Path, index: IndexSettings, concurrency: int, batch_size: int
) -> None:
    """The Ray Data pipeline: texts -> EmbedActor pool -> Parquet shards under ``out``."""
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ds = ray.data.from_items([{"text": t} for t in texts])
    ds = ds.map_batches(
        EmbedActor,
        fn_constructor_kwargs={
            "model_dir": str(index.model_path),
            "backend": index.backend,
            "device": index.device,
            "batch_size": index.batch_size,
        },
        concurrency=concurrency,
        batch_size=batch_size,
        batch_format="numpy",
    )
    ds.write_parquet(str(out))


def _shard_manifest(index: IndexSettings, count: int) -> dict:
    """The shard folder's ``manifest.json``: the model, backend and key that made it."""
    return {
        "model_id": model_id(index.model_path),
        "dimension": model_dimension(index.model_path),
        "backend": index.backend,
        "normalized": True,
        "count": count,
        "key": f"sha256(utf-8 text)[:{KEY_BYTES}]",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# -- 3. load: shards as a lookup table for sync ---------------------------------------------------
class EmbeddingShards:
    """All vectors of a shard folder, sorted by key for ``searchsorted`` look-ups."""

    def __init__(self, folder: Path, expected_model_id: str | None = None):
        import pyarrow.parquet as pq

        folder = Path(folder)
        if not (folder / MANIFEST).exists():
            raise RagError(f"{folder}: no {MANIFEST}; not an embedding shard folder.")
        self.manifest = json.loads((folder / MANIFEST).read_text())
        if expected_model_id and self.manifest["model_id"] != expected_model_id:
            raise RagError(
                f"{folder} was embedded with {self.manifest['model_id']}, but the configured "
                f"model is {expected_model_id}: embed again with this model."
            )
        dim = int(self.manifest["dimension"])
        keys, vectors = [], []
        for shard in sorted(folder.glob("*.parquet")):
            table = pq.read_table(shard, columns=["key", "vector"])
            keys += table.column("key").to_pylist()
            vectors.append(b"".join(table.column("vector").to_pylist()))
        self.keys = np.array(keys, dtype=f"S{KEY_BYTES}")
        self.vectors = np.frombuffer(b"".join(vectors), dtype="<f4").reshape(-1, dim)
        order = np.argsort(self.keys)
        self.keys, self.vectors = self.keys[order], self.vectors[order]

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors for ``texts`` (zeros where absent) and a mask of which were found."""
        wanted = np.array([text_key(t) for t in texts], dtype=f"S{KEY_BYTES}")
        at = np.clip(np.searchsorted(self.keys, wanted), 0, max(len(self.keys) - 1, 0))
        found = (self.keys[at] == wanted) if len(self.keys) else np.zeros(len(texts), bool)
        out = np.zeros((len(texts), self.vectors.shape[1]), dtype=np.float32)
        out[found] = self.vectors[at[found]]
        return out, found


class ShardEmbedder(Embedder):
    """The Embedder sync uses, answering from precomputed shards; misses embed locally."""

    def __init__(self, shards: EmbeddingShards, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if shards.manifest["model_id"] != self.model_id:
            raise RagError(
                f"Shards embedded with {shards.manifest['model_id']}, model is {self.model_id}."
            )
        if shards.manifest.get("backend", "torch") != self.backend:
            raise RagError(
                f"Shards embedded with the {shards.manifest.get('backend', 'torch')} backend, "
                f"this index uses {self.backend}: re-embed them, or pass --backend "
                f"{shards.manifest.get('backend', 'torch')}."
            )
        self.shards = shards
        self.hits = 0
        self.misses = 0

    def local(self) -> Embedder:
        """The plain model (shared per process): texts outside the shards, not misses."""
        return Embedder(self.model_dir, self.device, self.batch_size, self.backend)

    def encode(self, texts: list[str], progress: bool | None = None) -> np.ndarray:
        if not texts:
            return super().encode(texts, progress)
        vectors, found = self.shards.lookup(list(texts))
        self.hits += int(found.sum())
        missing = np.flatnonzero(~found)
        self.misses += len(missing)
        if len(missing):
            vectors[missing] = super().encode([texts[i] for i in missing], progress)
        return vectors


# -- command line ---------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rag.distributed", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("embed", help="embed a corpus's texts on a Ray actor pool into shards")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True, help="empty folder for the shards")
    p.add_argument("--address", help="Ray cluster address (auto, HOST:PORT); default: local")
    p.add_argument("--concurrency", type=int, default=2, help="embedding actors")
    p.add_argument("--batch-size", type=int, default=256, help="rows per Ray batch")
    p.add_argument("--backend", choices=BACKENDS, help="embedding backend (default: settings)")
    p.add_argument("--device", default="cpu")
    p = sub.add_parser("index", help="rag index, taking vectors from shards")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--embeddings", type=Path, required=True)
    p.add_argument("--index", type=Path)
    p.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "embed":
        settings = load_settings(device=args.device, backend=args.backend)
        texts = plan_texts(args.paths, settings.index)
        report = embed_with_ray(
            texts, args.out, settings.index, args.concurrency, args.batch_size, args.address
        )
        print(
            f"{report.texts} texts embedded into {report.shards} shards in {report.out} "
            f"({report.seconds} s)"
        )
        return 0
    from rag.indexing import sync

    settings = load_settings(index_dir=args.index)
    shards = EmbeddingShards(args.embeddings, model_id(settings.model_path))
    embedder = ShardEmbedder(
        shards, settings.model_path, settings.device, settings.batch_size, settings.backend
    )
    report = sync(args.paths, settings, rebuild=args.rebuild, embedder=embedder)
    print(
        f"{report.documents} documents, {report.chunks} chunks in {settings.index_dir}; "
        f"{embedder.hits} vectors from shards, {embedder.misses} embedded locally "
        f"({report.seconds:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    run_as_script(main)
