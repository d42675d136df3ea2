"""Eval stage: a local model answers should-answer and should-refuse prompts, a judge labels the answers, and we

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.evaluate.stage import (
    run,
)

__all__ = ["run"]
