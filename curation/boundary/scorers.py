"""Boundary scorers, registered by name in `curation.core.registry.scorers`: "probe" (embedding probe margin) and
"direction" (projection on a model's refusal direction). Each returns raw scores plus an uncalibrated P(refuse).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from curation.core.errors import ModelError
from curation.core.registry import scorers


class BoundaryScorer(Protocol):
    name: str           # registered name + artifact name, e.g. "probe:default"
    artifact: str       # identity of the fitted artifact (calibrations are tied to it)
    artifact_dir: Path  # where the calibration of this artifact is saved

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """Raw score per text: higher = more refusal-like."""
        ...

    def default_p_refuse(self, scores: np.ndarray) -> np.ndarray:
        """P(refuse) when no calibration exists."""
        ...

    def provenance(self) -> dict[str, Any]:
        ...


@dataclass
class ProbeScorer:
    """Decision margin of the embedding probe; uncalibrated P(refuse) is the probe's sigmoid."""

    probe: Any
    encoder: Any
    workspace_root: Path
    artifact_dir: Path
    label: str
    batch_size: int = 64
    name: str = field(init=False)
    artifact: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = f"probe:{self.label}"
        self.artifact = f"probe:{self.probe.model_id}:{self.probe.meta.get('created', '')}"

    def score(self, texts: Sequence[str]) -> np.ndarray:
        from curation.models.embeddings import workspace_cache
        from curation.models.probe import boundary_offset

        with workspace_cache(self.workspace_root, self.encoder.model_id) as cache:
            raw = self.probe.score_texts(list(texts), self.encoder, cache, batch_size=self.batch_size)
        return raw - boundary_offset(self.probe)  # the contextual model's p_refuse = 0.5 point (docs/harm-model.md)

    def default_p_refuse(self, scores: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        return expit(np.asarray(scores, dtype=np.float64))

    def provenance(self) -> dict[str, Any]:
        return {"scorer": "probe", "artifact": str(self.artifact_dir), "encoder": self.probe.model_id,
                "probe_holdout_auroc": self.probe.meta.get("holdout_auroc")}


@dataclass
class DirectionScorer:
    """Projection of the post-instruction activation at the selected layer on the refusal direction."""

    direction: Any
    lm: Any
    workspace_root: Path
    artifact_dir: Path
    label: str
    batch_size: int = 16
    show_progress: bool = True
    name: str = field(init=False)
    artifact: str = field(init=False)

    def __post_init__(self) -> None:
        d = self.direction
        self.name = f"direction:{self.label}"
        self.artifact = f"direction:{d.model_id}:{d.layer}:{d.metrics.get('created', '')}"

    def score(self, texts: Sequence[str]) -> np.ndarray:
        from curation.models.refusal_direction.activations import workspace_activation_cache

        cache = workspace_activation_cache(self.workspace_root, self.lm)
        try:
            return self.direction.score_texts(list(texts), self.lm, cache, batch_size=self.batch_size,
                                              show_progress=self.show_progress and len(texts) > 4 * self.batch_size)
        finally:
            cache.close()

    def default_p_refuse(self, scores: np.ndarray) -> np.ndarray:
        return self.direction.uncalibrated_p_refuse(scores)

    def provenance(self) -> dict[str, Any]:
        d = self.direction
        return {"scorer": "direction", "artifact": str(self.artifact_dir), "model_id": d.model_id,
                "layer": d.layer, "position": d.position, "val_auroc": d.metrics.get("auroc"),
                "selected_by": d.metrics.get("selected_by")}


@scorers.register("probe.v1")
def make_probe_scorer(workspace_root: Path, name: str = "default", path: str | None = None, device: str = "cpu",
                      batch_size: int = 64) -> BoundaryScorer:
    """The embedding probe saved by `curate probe fit --name NAME` (or the probe folder at PATH)."""
    from curation.models.embeddings import get_encoder
    from curation.models.probe import Probe, default_probe_dir

    folder = Path(path) if path else default_probe_dir(workspace_root, name)
    probe = Probe.load(folder)
    encoder = get_encoder(probe.model_id, device=device)
    return ProbeScorer(probe, encoder, Path(workspace_root), folder, path or name, batch_size)


@scorers.register("direction.v1")
def make_direction_scorer(workspace_root: Path, name: str = "default", path: str | None = None,
                          model: str | None = None, layer: int | None = None, device: str = "cpu",
                          batch_size: int = 16, show_progress: bool = True) -> BoundaryScorer:
    """The refusal direction saved by `curate boundary fit-direction --name NAME` (or PATH); `model`, when given,
    must be the model the direction was fit on."""
    from curation.models.refusal_direction.direction import (
        RefusalDirection,
        cached_lm,
        canonical_model_id,
        default_direction_dir,
    )

    location = Path(path) if path else default_direction_dir(workspace_root, name)
    direction = RefusalDirection.load(location, device=device)
    if model and canonical_model_id(model) != canonical_model_id(direction.model_id):
        raise ModelError(f"the refusal direction '{path or name}' was fit on model '{direction.model_id}', "
                         f"not '{model}'", f"refit it with `curate boundary fit-direction --model {model}` or drop "
                         "--model")
    if layer is not None:
        direction = direction.with_layer(layer)
    lm = cached_lm(direction.model_id, device)
    direction.check_model(lm)
    folder = location.parent if location.suffix == ".safetensors" else location
    return DirectionScorer(direction, lm, Path(workspace_root), folder, path or name, batch_size, show_progress)


def get_scorer(scorer: str, workspace_root: Path, **options: Any) -> BoundaryScorer:
    """Build a registered scorer by name (unknown names list the known ones; its options are validated first)."""
    return scorers.make(scorer, options, workspace_root=workspace_root)
