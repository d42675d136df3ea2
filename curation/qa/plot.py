"""PNG of the agreement report: pairwise Cohen's kappa and the pooled confusion matrix per label question."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from curation.core.errors import InputError
from curation.core.plotting import save_figure


def plot_report(report: dict[str, Any], path: Path) -> Path:
    """Draw one row per label question (kappa matrix, confusion matrix) and save a PNG atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    questions = [q for q, lab in report["labels"].items() if lab["labels"]]
    if not questions:
        raise InputError("nothing to plot: the snapshot has no answered label question", "drop --plot")
    fig, axes = plt.subplots(len(questions), 2, figsize=(10, 4.2 * len(questions)), squeeze=False)
    for row, question in zip(axes, questions, strict=True):
        lab = report["labels"][question]
        users = lab["annotators"]
        kappa = np.full((len(users), len(users)), np.nan)
        np.fill_diagonal(kappa, 1.0)
        for pair in lab["cohen_kappa"].values():
            i, j = users.index(pair["a"]), users.index(pair["b"])
            kappa[i, j] = kappa[j, i] = np.nan if pair["kappa"] is None else pair["kappa"]
        _heatmap(row[0], kappa, users, users, f"{question}: Cohen's kappa", vmin=-1, vmax=1, fmt="{:.2f}")
        conf = np.asarray(lab["confusion"], dtype=float)
        _heatmap(row[1], conf, lab["labels"], lab["labels"], f"{question}: annotator pairs (counts)",
                 vmin=0, vmax=max(1.0, float(conf.max())), fmt="{:.0f}")
    fig.suptitle(f"Agreement on {report['dataset']} ({report['records']} records)")
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def _heatmap(ax: Any, data: np.ndarray, rows: list[str], cols: list[str], title: str, vmin: float, vmax: float,
             fmt: str) -> None:
    ax.imshow(data, cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_title(title)
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            if not np.isnan(data[i, j]):
                ax.text(j, i, fmt.format(data[i, j]), ha="center", va="center", color="white")
