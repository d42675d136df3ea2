"""Judge stage: label each response full_compliance / full_refusal / partial_refusal with a registered judge.

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.judge.stage import (
    PARSE_FALLBACK_SCORE,
    JudgeConfig,
    get_judge,
    judge_responses,
    make_string_match,
    normalize_for_match,
    parse_llm_label,
    run,
)

__all__ = [
    "JudgeConfig",
    "PARSE_FALLBACK_SCORE",
    "get_judge",
    "judge_responses",
    "make_string_match",
    "normalize_for_match",
    "parse_llm_label",
    "run",
]
