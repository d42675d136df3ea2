"""Active learning over the trigger-span queue: refit the harm probe on confirmed spans and re-rank what is pending.

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.active_learning.stage import (
    LoopConfig,
    LoopReport,
    annotated_span_examples,
    contrast_prompts,
    hard_negatives,
    load_weights,
    refit_probe,
    run,
)

__all__ = [
    "LoopConfig",
    "LoopReport",
    "annotated_span_examples",
    "contrast_prompts",
    "hard_negatives",
    "load_weights",
    "refit_probe",
    "run",
]
