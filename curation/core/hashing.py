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
