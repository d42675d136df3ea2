"""Boundary stage: score prompts by how close they sit to a model's refusal decision boundary, and select them.

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.boundary.stage import (
    BoundaryConfig,
    BoundaryScoreBatch,
    ScoreReport,
    SelectConfig,
    run,
    score_texts,
    score_threshold,
    score_with_report,
    scorer_in_sample,
    select_prompts,
)

__all__ = [
    "BoundaryConfig",
    "BoundaryScoreBatch",
    "ScoreReport",
    "SelectConfig",
    "run",
    "score_texts",
    "score_threshold",
    "score_with_report",
    "scorer_in_sample",
    "select_prompts",
]
