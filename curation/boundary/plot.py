"""PNG histogram of boundary scores by label, with the threshold and the P(refuse) band marked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from curation.core.errors import InputError
from curation.core.plotting import save_figure


def plot_scores(scores: Sequence[float], labels: Sequence[str | None], path: Path | str, threshold: float | None,
                band: tuple[float, float] | None, title: str = "boundary scores",
                highlight: Sequence[int] | None = None) -> Path:
    """Write the histogram to PATH (.png); `highlight` marks selected rows as a rug."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(f"plot path {path} is not a .png file", "pass --plot something.png")
    values = np.asarray(scores, dtype=np.float64)
    names = [lab or "unknown" for lab in labels]
    bins = np.histogram_bin_edges(values[np.isfinite(values)], bins=min(40, max(5, len(values) // 5)))
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if band is not None:
        ax.axvspan(min(band), max(band), color="gold", alpha=0.25, label="band")
    for name in sorted(set(names)):
        ax.hist(values[[n == name for n in names]], bins=bins, alpha=0.55, label=name)
    if threshold is not None and np.isfinite(threshold):
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g}")
    if highlight:
        ax.plot(values[list(highlight)], np.zeros(len(highlight)), "|", color="red", markersize=14,
                label="selected")
    ax.set_xlabel("boundary score (higher = more refusal-like)")
    ax.set_ylabel("prompts")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_dataset(ds: Any, path: Path | str, threshold: float | None, band: tuple[float, float] | None,
                 title: str, highlight: Sequence[int] | None = None) -> Path:
    """`plot_scores` of a scored dataset, coloured by judge_label, else label."""
    from curation.core import columns as C

    labels = ds[C.JUDGE_LABEL] if C.JUDGE_LABEL in ds.column_names else (
        ds[C.LABEL] if C.LABEL in ds.column_names else [None] * len(ds))
    return plot_scores(ds[C.BOUNDARY_SCORE], labels, path, threshold, band, title, highlight)


def scored_band(ds: Any) -> tuple[float, tuple[float, float]]:
    """The threshold and P(refuse) band of a scored dataset: from its provenance, else read off its p_refuse curve."""
    import json

    from curation.boundary.stage import score_threshold
    from curation.core import columns as C

    prov = json.loads(ds[0][C.BOUNDARY_PROVENANCE]) if C.BOUNDARY_PROVENANCE in ds.column_names else {}
    scores, p = np.asarray(ds[C.BOUNDARY_SCORE], dtype=float), np.asarray(ds[C.P_REFUSE], dtype=float)
    order = np.argsort(scores)

    def p_fn(x: np.ndarray) -> np.ndarray:
        return np.interp(x, scores[order], np.maximum.accumulate(p[order]))

    width = float(prov.get("band_width", 0.15))
    threshold = float(prov.get("threshold", score_threshold(p_fn, 0.5, scores)))
    return threshold, (score_threshold(p_fn, 0.5 - width, scores), score_threshold(p_fn, 0.5 + width, scores))
