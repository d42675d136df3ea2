"""Boundary stage: score prompts by how close they sit to a model's refusal decision boundary (RASS-style),

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.boundary.stage import (
    BoundaryConfig,
    ScoreReport,
    SelectConfig,
    run,
    score_threshold,
    score_with_report,
    select_prompts,
)

__all__ = ["BoundaryConfig", "ScoreReport", "SelectConfig", "run", "score_threshold", "score_with_report",
           "select_prompts"]
