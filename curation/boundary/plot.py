"""PNG histogram of boundary scores by label, with the threshold and the P(refuse) band marked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

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
