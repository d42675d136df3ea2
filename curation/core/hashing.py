"""Stable content hashes: record ids and cache keys that survive re-runs and re-ingests."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Any

_WS = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC, casefold, unify quotes and collapse whitespace, so trivial variants hash the same."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return _WS.sub(" ", text).strip().casefold()


def sha(text: str, length: int = 16) -> str:
    """Hex sha256 prefix of a string."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def record_id(prompt: str) -> str:
    """The stable id of a prompt: same normalized prompt, same id, whatever its source."""
    return sha(normalize_text(prompt))


def config_hash(obj: Any) -> str:
    """Hash of a JSON-able object (a config dump) for cache keys."""
    return sha(json.dumps(obj, sort_keys=True, default=str))


# Settings that decide how a stage runs, never what it writes: left out of stage fingerprints so a re-run on another
# device, batch size or engine reuses the result. Not for training runs, where the batch size changes the model.
RUN_SETTINGS = frozenset({"device", "batch_size", "embed_batch_size", "num_proc", "engine", "concurrency",
                          "num_gpus", "scratch", "show_progress"})


def _without_run_settings(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _without_run_settings(v) for k, v in obj.items() if k not in RUN_SETTINGS}
    return obj


def stage_fingerprint(input_fingerprint: str, stage: str, config: Any = None, *artifacts: Any) -> str:
    """The `datasets` fingerprint of a stage's output: the input's fingerprint, the stage's version, its config (a
    pydantic model or dict) less the RUN_SETTINGS at any depth, and what its loaded artifacts are (no model hashing)."""
    dump = config.model_dump() if hasattr(config, "model_dump") else dict(config or {})
    return config_hash([input_fingerprint, stage, _without_run_settings(dump), *artifacts])
