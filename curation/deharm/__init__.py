"""De-harm stage: benign requests a user would actually type that keep a prompt's trigger word in a real benign

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.deharm.stage import (
    DeharmConfig,
    DeharmReport,
    has_trigger,
    model_rewrites,
    run,
)

__all__ = ["DeharmConfig", "DeharmReport", "has_trigger", "model_rewrites", "run"]
