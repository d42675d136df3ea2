"""QA stage: inter-annotator agreement on a pulled annotation snapshot and how well each suggestion held up.

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.qa.stage import (
    QAConfig,
    QAReport,
    pipeline_spans,
    run,
    summary,
)

__all__ = [
    "QAConfig",
    "QAReport",
    "pipeline_spans",
    "run",
    "summary",
]
