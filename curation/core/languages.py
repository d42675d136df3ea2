"""Language codes: the one normalisation every stage uses, so 'fr-CA', 'FR_ca' and 'fr' route alike."""

from __future__ import annotations

UNDETERMINED = frozenset({"", "unknown", "und", "none"})


def normalize_language_code(code: str | None, default: str = "en") -> str:
    """'fr-CA' / 'FR_ca' -> 'fr'; empty or undetermined ('und', 'unknown') -> `default`."""
    lang = (code or "").strip().lower().replace("_", "-").split("-")[0]
    return default if lang in UNDETERMINED else lang
