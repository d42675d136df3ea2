"""Adjudication: turn annotators' answers into gold values with a registered rule (majority, unanimity or a

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.adjudicate.stage import (
    AdjudicateConfig,
    run,
)

__all__ = ["AdjudicateConfig", "run"]
