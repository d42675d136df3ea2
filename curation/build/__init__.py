"""Build stage: gold datasets -> one `datasets.DatasetDict` per named config (triggers, boundary, sft, dpo, morbench).

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.build.stage import (
    BuildResult,
    annotation_summary,
    build_dir,
    load_build,
    load_build_config,
    run,
    save_build,
    split_rows,
    split_text,
)

__all__ = [
    "BuildResult",
    "annotation_summary",
    "build_dir",
    "load_build",
    "load_build_config",
    "run",
    "save_build",
    "split_rows",
    "split_text",
]
