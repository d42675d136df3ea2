"""De-harm stage: benign requests a user would actually type that keep a prompt's trigger word, with answers.

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.deharm.stage import (
    DeharmConfig,
    DeharmReport,
    benign_triggers,
    clean_rewrite,
    deharm_record_id,
    harmfulness,
    has_trigger,
    highlight,
    model_rewrites,
    push,
    run,
    trigger_pairs,
)

__all__ = [
    "DeharmConfig",
    "DeharmReport",
    "benign_triggers",
    "clean_rewrite",
    "deharm_record_id",
    "harmfulness",
    "has_trigger",
    "highlight",
    "model_rewrites",
    "push",
    "run",
    "trigger_pairs",
]
