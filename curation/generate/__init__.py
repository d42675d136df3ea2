"""Generate stage: a local causal/chat model answers every prompt; resumable, each answer records why it stopped.

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.generate.stage import (
    DEFAULT_MAX_NEW_TOKENS,
    GenerateConfig,
    carry_over,
    pending_rows,
    run,
    truncated_count,
    with_responses,
)

__all__ = [
    "DEFAULT_MAX_NEW_TOKENS",
    "GenerateConfig",
    "carry_over",
    "pending_rows",
    "run",
    "truncated_count",
    "with_responses",
]
