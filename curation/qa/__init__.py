"""QA stage: inter-annotator agreement on a pulled annotation snapshot (labels and spans) and how well each

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.qa.stage import (
    QAReport,
    pipeline_spans,
    run,
    summary,
)

__all__ = ["QAReport", "pipeline_spans", "run", "summary"]
