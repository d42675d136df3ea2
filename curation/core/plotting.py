"""Saving matplotlib figures the way every stage writes files: atomically, and always closing the figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_figure(fig: Any, path: Path | str, dpi: int | None = None) -> Path:
    """Write `fig` as PNG via a temp file + rename (a crash never leaves half a picture), then close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.png")
        fig.savefig(tmp, dpi=dpi)
        tmp.replace(path)
    finally:
        plt.close(fig)
    return path
