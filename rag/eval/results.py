"""A scored run, kept as JSON: everything a report or a later comparison needs.

Every number is computed from per-question values stored in the result, so two saved
results can be compared later with a paired significance test.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rag.errors import RagError
from rag.eval.metrics import ranked_run


@dataclass
class EvalResult:
    """Everything a report or a later comparison needs, JSON-serialisable."""

    kind: str  # "gold" | "beir"
    name: str
    config: dict
    metrics: dict[str, float | None]
    counts: dict[str, float]
    questions: list[dict]
    qrels: dict[str, dict[str, int]]
    run: dict[str, list[str]]  # ranked ids per question, best first
    warnings: list[str] = field(default_factory=list)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    @property
    def label(self) -> str:
        return f"{self.name} ({self.kind}, mode {self.config.get('settings', {}).get('mode')})"

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(asdict(self), indent=1, ensure_ascii=False, default=_json_default)
        path.write_text(data + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> EvalResult:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            data["run"] = {q: _ranked_ids(v) for q, v in data.get("run", {}).items()}
            return cls(**data)
        except OSError as exc:
            raise RagError(f"{path}: cannot read ({exc.strerror})") from exc
        except (json.JSONDecodeError, TypeError) as exc:
            raise RagError(f"{path}: not a result written by `rag eval --json`") from exc

    def write_trec(self, path: Path) -> None:
        """The run in TREC format (qid Q0 docid rank score tag), written by ranx."""
        from ranx import Run

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tag = re.sub(r"\W+", "-", f"caseqa-{self.config.get('settings', {}).get('mode', '')}")
        runs = {q: ranked_run(ids) for q, ids in self.run.items() if ids}
        Run(runs, name=tag).save(str(path), kind="trec")

    def scored_run(self) -> dict[str, dict[str, float]]:
        """The run as ranx wants it, for every judged question."""
        return {q: ranked_run(self.run.get(q, [])) for q in self.qrels}


def _ranked_ids(value: list[str] | dict[str, float]) -> list[str]:
    """Ranked ids from a stored run entry (older results stored {id: score})."""
    if isinstance(value, dict):
        return sorted(value, key=lambda i: -value[i])
    return list(value)


def _json_default(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(type(value).__name__)
