"""Triggers stage: propose, score and label the spans most likely to make a model refuse each prompt.

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.triggers.stage import (
    DEFAULT_WEIGHTS,
    TRIGGER_FLAGS,
    TriggersConfig,
    TriggerTagger,
    output_features,
    run,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "TRIGGER_FLAGS",
    "TriggerTagger",
    "TriggersConfig",
    "output_features",
    "run",
]
