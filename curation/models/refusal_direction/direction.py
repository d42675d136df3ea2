"""The refusal direction of a causal LM: difference of mean activations (harmful - harmless) per layer, the layer
chosen by separation on a validation split (and, when asked, by ablation), saved as a safetensors artifact.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from curation.core.errors import ConfigError, InputError, ModelError
from curation.core.workspace import atomic_dir
from curation.models.lm import LoadedLM, load_lm
from curation.models.refusal_direction.activations import ActivationCache, check_layer, collect_activations

MIN_PER_CLASS = 5
WEIGHTS_FILE = "direction.safetensors"
META_FILE = "direction.json"
SELECT_METRICS = ("auroc", "effect_size")


def canonical_model_id(name_or_path: str) -> str:
    """Existing folders/files become absolute paths (so a direction keeps working from another folder)."""
    path = Path(name_or_path)
    return str(path.resolve()) if path.exists() else name_or_path


def cached_lm(model_id: str, device: str = "cpu") -> LoadedLM:
    """`load_lm` called the way other stages call it, so its lru cache holds one copy per model."""
    return load_lm(model_id) if device == "cpu" else load_lm(model_id, device)


class DirectionConfig(BaseModel):
    """Options of `curate boundary fit-direction`."""

    model_config = ConfigDict(extra="forbid")

    model: str = "smollm2"
    device: str = "cpu"
    position: str = Field("mean", description="Pool the post-instruction positions by 'mean' or take the 'last'.")
    layer: int | None = Field(None, description="Force this layer instead of selecting one.")
    select_by: str = Field("auroc", description="auroc (ties broken by effect size) or effect_size.")
    max_layer_fraction: float = Field(1.0, gt=0, le=1, description="Only consider layers below this share of depth.")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="Held-out share when no validation sets are given.")
    ablation_check: bool = False
    ablation_candidates: int = Field(3, ge=1)
    ablation_prompts: int = Field(16, ge=1)
    ablation_max_new_tokens: int = Field(32, ge=1)
    batch_size: int = Field(16, ge=1)
    seed: int = 0


@dataclass
class RefusalDirection:
    """A unit refusal direction at one layer of one model, with every layer's direction and selection metrics."""

    model_id: str
    layer: int
    vector: np.ndarray
    directions: np.ndarray
    position: str = "mean"
    metrics: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"

    @property
    def n_layers(self) -> int:
        return int(self.directions.shape[0])

    @property
    def hidden_size(self) -> int:
        return int(self.vector.shape[0])

    def check_model(self, lm: LoadedLM) -> None:
        """Refuse a model other than the one the direction was fit on, naming both."""
        if canonical_model_id(lm.model_id) != canonical_model_id(self.model_id):
            raise ModelError(f"the refusal direction was fit on model '{self.model_id}', not '{lm.model_id}'",
                             f"refit it with `curate boundary fit-direction --model {lm.model_id}` or use "
                             f"--model {self.model_id}")
        if int(lm.model.config.hidden_size) != self.hidden_size or lm.num_layers != self.n_layers:
            raise ModelError(f"the refusal direction ({self.n_layers} layers x {self.hidden_size}) does not fit "
                             f"model '{lm.model_id}' ({lm.num_layers} x {lm.model.config.hidden_size})",
                             "refit the direction for this model")

    def load_model(self) -> LoadedLM:
        lm = cached_lm(self.model_id, self.device)
        self.check_model(lm)
        return lm

    def project(self, activations: np.ndarray) -> np.ndarray:
        """Projection of [n, hidden] activations on the unit direction."""
        return activations.astype(np.float32) @ self.vector

    def score_texts(self, texts: Sequence[str], lm: LoadedLM | None = None, cache: ActivationCache | None = None,
                    batch_size: int = 16, show_progress: bool = False) -> np.ndarray:
        """Projection of each prompt's activation at the selected layer (higher = more refusal-like)."""
        lm = lm or self.load_model()
        self.check_model(lm)
        acts = collect_activations(lm, list(texts), layer=self.layer, position=self.position,
                                   batch_size=batch_size, cache=cache, show_progress=show_progress)
        return self.project(acts)

    def uncalibrated_p_refuse(self, scores: np.ndarray) -> np.ndarray:
        """A logistic map centred between the validation class means (0.88 at the harmful mean)."""
        from scipy.special import expit

        hi, lo = self.metrics.get("harmful_mean"), self.metrics.get("harmless_mean")
        values = np.asarray(scores, dtype=np.float64)
        if hi is None or lo is None or hi == lo:
            return expit(values)
        return expit(4.0 / (hi - lo) * (values - (hi + lo) / 2))

    def with_layer(self, layer: int) -> RefusalDirection:
        """The same artifact pointed at another layer."""
        if not 0 <= layer < self.n_layers:
            raise InputError(f"layer index {layer} is out of range for '{self.model_id}' ({self.n_layers} layers)",
                             f"pass a layer between 0 and {self.n_layers - 1}")
        per_layer = self.metrics.get("per_layer", [])
        metrics = dict(self.metrics)
        if layer < len(per_layer):
            metrics.update({k: per_layer[layer][k] for k in ("harmful_mean", "harmless_mean") if k in per_layer[layer]})
        return RefusalDirection(self.model_id, layer, self.directions[layer].copy(), self.directions, self.position,
                                metrics, self.device)

    # persistence ---------------------------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "layer": self.layer, "n_layers": self.n_layers,
                "hidden_size": self.hidden_size, "position": self.position, **self.metrics}

    def save(self, path: Path | str) -> Path:
        """Write `direction.safetensors` (+ `direction.json`) atomically; PATH is a folder or a .safetensors file."""
        from safetensors.numpy import save_file

        path = Path(path)
        meta = self.meta()
        meta.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        tensors = {"direction": self.vector.astype(np.float32), "directions": self.directions.astype(np.float32)}
        text = json.dumps(meta, indent=2, default=float)
        if path.suffix == ".safetensors":
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            os.close(fd)
            try:
                save_file(tensors, tmp, metadata={"json": text})
                os.replace(tmp, path)
            finally:
                Path(tmp).unlink(missing_ok=True)
            path.with_suffix(".json").write_text(text)
            return path
        with atomic_dir(path) as tmp_dir:
            save_file(tensors, str(tmp_dir / WEIGHTS_FILE), metadata={"json": text})
            (tmp_dir / META_FILE).write_text(text)
        return path

    @classmethod
    def load(cls, path: Path | str, device: str = "cpu") -> RefusalDirection:
        """Read a direction saved by `save` (a folder or the .safetensors file)."""
        from safetensors import safe_open

        path = Path(path)
        weights = path if path.suffix == ".safetensors" else path / WEIGHTS_FILE
        if not weights.exists():
            raise ModelError(f"no refusal direction at {path}",
                             "fit one with `curate boundary fit-direction --model M --harmful X --harmless Y`")
        with safe_open(str(weights), framework="numpy") as fh:
            meta = json.loads((fh.metadata() or {}).get("json", "{}"))
            vector, directions = fh.get_tensor("direction"), fh.get_tensor("directions")
        model_id, layer, position = meta.pop("model_id"), int(meta.pop("layer")), meta.pop("position", "mean")
        for key in ("n_layers", "hidden_size"):
            meta.pop(key, None)
        return cls(model_id, layer, vector, directions, position, meta, device)


# fitting -------------------------------------------------------------------------------------------------------
def _check_contrast(harmful: Sequence[str], harmless: Sequence[str], what: str) -> tuple[list[str], list[str]]:
    harmful = [t for t in harmful if t and t.strip()]
    harmless = [t for t in harmless if t and t.strip()]
    if len(harmful) < MIN_PER_CLASS or len(harmless) < MIN_PER_CLASS:
        raise InputError(f"{what} too small or one-sided: {len(harmful)} harmful, {len(harmless)} harmless prompts",
                         f"give at least {MIN_PER_CLASS} non-empty prompts of each class")
    return harmful, harmless


def _split(texts: list[str], fraction: float, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    order = rng.permutation(len(texts))
    n_val = max(2, int(round(len(texts) * fraction)))
    return [texts[i] for i in order[n_val:]], [texts[i] for i in order[:n_val]]


def layer_metrics(directions: np.ndarray, val_harmful: np.ndarray, val_harmless: np.ndarray) -> list[dict[str, float]]:
    """Per layer: AUROC and Cohen's d of validation projections, and both class means."""
    from sklearn.metrics import roc_auc_score

    out = []
    y = np.r_[np.ones(len(val_harmful)), np.zeros(len(val_harmless))]
    for layer, unit in enumerate(directions):
        hi, lo = val_harmful[:, layer] @ unit, val_harmless[:, layer] @ unit
        pooled = np.sqrt((hi.var(ddof=1) + lo.var(ddof=1)) / 2) if min(len(hi), len(lo)) > 1 else 0.0
        effect = float((hi.mean() - lo.mean()) / pooled) if pooled > 1e-12 else 0.0
        out.append({"layer": layer, "auroc": float(roc_auc_score(y, np.r_[hi, lo])), "effect_size": effect,
                    "harmful_mean": float(hi.mean()), "harmless_mean": float(lo.mean())})
    return out


def rank_layers(per_layer: list[dict[str, float]], select_by: str, max_layer_fraction: float) -> list[int]:
    """Layers best-first by the selection metric (AUROC ties broken by effect size), within the allowed depth."""
    if select_by not in SELECT_METRICS:
        raise InputError(f"unknown layer selection metric '{select_by}'", f"use one of: {', '.join(SELECT_METRICS)}")
    allowed = [m for m in per_layer if m["layer"] < max(1, int(np.ceil(len(per_layer) * max_layer_fraction)))]
    key = (lambda m: (round(m["auroc"], 6), m["effect_size"])) if select_by == "auroc" else (
        lambda m: (m["effect_size"], m["auroc"]))
    return [int(m["layer"]) for m in sorted(allowed, key=key, reverse=True)]


def ablation_check(lm: LoadedLM, directions: np.ndarray, harmful_prompts: Sequence[str], layers: Sequence[int],
                   refused: Callable[[list[str]], list[bool]], max_new_tokens: int = 32,
                   batch_size: int = 8) -> dict[str, Any]:
    """Refusal rate on harmful prompts without ablation and with each candidate layer's direction ablated;
    `refused` says which responses refuse (the judge stage's `is_refusal`: models do not import stages)."""
    from curation.models.lm import generate
    from curation.models.refusal_direction.steering import ablation

    def refusal_rate(responses: list[str]) -> float:
        return float(np.mean(refused(responses)))

    prompts = list(harmful_prompts)
    baseline = refusal_rate(generate(lm, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size))
    per_layer = {}
    for layer in layers:
        with ablation(lm, directions[layer]):
            per_layer[int(layer)] = refusal_rate(generate(lm, prompts, max_new_tokens=max_new_tokens,
                                                          batch_size=batch_size))
    best = min(layers, key=lambda layer: (per_layer[int(layer)], list(layers).index(layer)))
    return {"n_prompts": len(prompts), "baseline_refusal_rate": baseline,
            "refusal_rate_by_layer": {str(k): v for k, v in per_layer.items()}, "ablation_layer": int(best)}


def fit_direction(
    lm: LoadedLM,
    harmful: Sequence[str],
    harmless: Sequence[str],
    cfg: DirectionConfig | None = None,
    harmful_val: Sequence[str] | None = None,
    harmless_val: Sequence[str] | None = None,
    cache: ActivationCache | None = None,
    show_progress: bool = False,
    refused: Callable[[list[str]], list[bool]] | None = None,
) -> RefusalDirection:
    """Difference-of-means direction per layer; pick the layer by validation separation (and ablation if asked:
    `refused` judges the ablated answers, e.g. `curation.judge.stage.is_refusal`)."""
    cfg = cfg or DirectionConfig(model=lm.model_id)
    if cfg.ablation_check and refused is None:
        raise ConfigError("the ablation check needs a refusal judge",
                          "pass refused=curation.judge.stage.is_refusal to fit_direction")
    harmful, harmless = _check_contrast(harmful, harmless, "contrast sets")
    rng = np.random.default_rng(cfg.seed)
    if harmful_val is None or harmless_val is None:
        harmful, harmful_val = _split(harmful, cfg.val_fraction, rng)
        harmless, harmless_val = _split(harmless, cfg.val_fraction, rng)
    else:
        harmful_val, harmless_val = _check_contrast(harmful_val, harmless_val, "validation sets")
    if cfg.layer is not None:
        check_layer(lm, cfg.layer)

    def acts(texts: Sequence[str]) -> np.ndarray:
        return collect_activations(lm, texts, layer=None, position=cfg.position, batch_size=cfg.batch_size,
                                   cache=cache, show_progress=show_progress)

    train_h, train_l, val_h, val_l = acts(harmful), acts(harmless), acts(harmful_val), acts(harmless_val)
    diff = train_h.mean(axis=0) - train_l.mean(axis=0)  # [n_layers, hidden]
    norms = np.linalg.norm(diff, axis=1, keepdims=True)
    directions = (diff / np.maximum(norms, 1e-12)).astype(np.float32)
    per_layer = layer_metrics(directions, val_h, val_l)
    for m, norm in zip(per_layer, norms[:, 0], strict=True):
        m["diff_norm"] = float(norm)
    ranked = rank_layers(per_layer, cfg.select_by, cfg.max_layer_fraction)
    metrics: dict[str, Any] = {
        "per_layer": per_layer, "select_by": cfg.select_by, "separation_layer": ranked[0],
        "n_train": {"harmful": len(harmful), "harmless": len(harmless)},
        "n_val": {"harmful": len(harmful_val), "harmless": len(harmless_val)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    layer = ranked[0]
    if cfg.ablation_check:
        candidates = ranked[: cfg.ablation_candidates]
        check = ablation_check(lm, directions, list(harmful_val)[: cfg.ablation_prompts], candidates, refused,
                               cfg.ablation_max_new_tokens, cfg.batch_size)
        metrics["ablation"] = check
        layer = check["ablation_layer"]
    if cfg.layer is not None:
        layer = cfg.layer % lm.num_layers
        metrics["forced_layer"] = layer
    chosen_by = "ablation" if cfg.ablation_check else cfg.select_by
    metrics["selected_by"] = "forced" if cfg.layer is not None else chosen_by
    metrics.update({k: per_layer[layer][k] for k in ("auroc", "effect_size", "harmful_mean", "harmless_mean")})
    return RefusalDirection(canonical_model_id(lm.model_id), layer, directions[layer].copy(), directions,
                            cfg.position, metrics, cfg.device)


def default_direction_dir(workspace_root: Path | str, name: str = "default") -> Path:
    return Path(workspace_root) / "artifacts" / "directions" / name
