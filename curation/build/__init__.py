"""Build stage: gold datasets -> one `datasets.DatasetDict` per named config (triggers, boundary, sft, dpo,

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.build.stage import (
    BuildResult,
    load_build,
    load_build_config,
    run,
)

__all__ = ["BuildResult", "load_build", "load_build_config", "run"]
