"""Active learning over the trigger-span queue: refit the harm probe on confirmed spans and re-rank what is pending.

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.active_learning.stage import (
    LoopConfig,
    LoopReport,
    annotated_span_examples,
    auroc,
    confirmed_labels,
    contrast_prompts,
    hard_negatives,
    load_weights,
    measure_precision,
    new_weights,
    refit_probe,
    refit_span_model,
    rescore_pending,
    reweighted_score,
    run,
    suggestion_spans,
    unanswered_records,
    uncertainty,
    weights_path,
)

__all__ = [
    "LoopConfig",
    "LoopReport",
    "annotated_span_examples",
    "auroc",
    "confirmed_labels",
    "contrast_prompts",
    "hard_negatives",
    "load_weights",
    "measure_precision",
    "new_weights",
    "refit_probe",
    "refit_span_model",
    "rescore_pending",
    "reweighted_score",
    "run",
    "suggestion_spans",
    "unanswered_records",
    "uncertainty",
    "weights_path",
]
