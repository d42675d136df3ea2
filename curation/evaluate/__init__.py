"""Eval stage: a local model answers should-answer and should-refuse prompts and a judge labels the answers.

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.evaluate.stage import (
    EvalConfig,
    evaluate,
    is_version,
    load_eval_rows,
    report,
    run,
    save_report,
    short_name,
    slug,
    table_rows,
    to_eval_rows,
)

__all__ = [
    "EvalConfig",
    "evaluate",
    "is_version",
    "load_eval_rows",
    "report",
    "run",
    "save_report",
    "short_name",
    "slug",
    "table_rows",
    "to_eval_rows",
]
