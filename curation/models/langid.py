"""Language identification with lingua, restricted to the languages the workspace curates.

Unrestricted lingua (75 languages, low-accuracy mode) called 11% of short English instructions something else
("What is your favorite color?" -> de). Restricting the candidates to the `languages` setting and using lingua's
high-accuracy mode for short texts, then falling back to the source's default language when the top confidence is
low, lifts that to >= 99% (figures in docs/data-correctness.md)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

UNDETERMINED = "und"
SHORT_TEXT_CHARS = 200  # texts up to this long use lingua's high-accuracy (n-grams 1-5) mode
MIN_CONFIDENCE = 0.4  # below this top confidence a row is `language_uncertain` (tuned on dev sets, see docs)


def _lingua_languages(codes: Sequence[str]) -> list:
    from lingua import IsoCode639_1, Language

    from curation.core.errors import ConfigError

    out = []
    for code in codes:
        iso = getattr(IsoCode639_1, code.strip().upper(), None)
        if iso is None:
            raise ConfigError(f"unknown language code '{code}' in the `languages` setting",
                              "use ISO 639-1 codes lingua knows, e.g. en, fr, de")
        out.append(Language.from_iso_code_639_1(iso))
    return out


@lru_cache(maxsize=8)
def _detectors(codes: tuple[str, ...]) -> tuple:
    """(high-accuracy, low-accuracy) detectors over `codes`; every language when `codes` is empty."""
    from lingua import LanguageDetectorBuilder

    def builder():  # noqa: ANN202 - lingua's builder type
        if not codes:
            return LanguageDetectorBuilder.from_all_languages()
        if len(codes) == 1:  # lingua needs two candidates; a second one only widens the choice
            return LanguageDetectorBuilder.from_languages(*_lingua_languages((*codes, "en" if codes[0] != "en"
                                                                             else "fr")))
        return LanguageDetectorBuilder.from_languages(*_lingua_languages(codes))

    return builder().build(), builder().with_low_accuracy_mode().build()


def configured_languages() -> tuple[str, ...]:
    """The workspace's `languages` setting (sorted, lower case)."""
    from curation.core.config import default_settings

    return tuple(sorted({c.strip().lower() for c in default_settings().languages if c.strip()}))


def detect_with_confidence(texts: Sequence[str], languages: Sequence[str] | None = None, default: str | None = None,
                           min_confidence: float = MIN_CONFIDENCE) -> tuple[list[str], list[bool]]:
    """(ISO 639-1 code, uncertain) per text. Candidates are `languages` (default: the `languages` setting); a text
    whose top confidence is below `min_confidence` is uncertain and gets `default` when one is given."""
    codes = tuple(sorted({c.lower() for c in languages})) if languages is not None else configured_languages()
    high, low = _detectors(codes)
    texts = list(texts)
    short = [i for i, t in enumerate(texts) if len(t) <= SHORT_TEXT_CHARS]
    long_ = [i for i, t in enumerate(texts) if len(t) > SHORT_TEXT_CHARS]
    langs: list[str] = [UNDETERMINED] * len(texts)
    uncertain = [True] * len(texts)
    for detector, idx in ((high, short), (low, long_)):
        if not idx:
            continue
        for i, values in zip(idx, detector.compute_language_confidence_values_in_parallel([texts[i] for i in idx]),
                             strict=True):
            top = values[0] if values else None
            sure = top is not None and top.value >= min_confidence
            code = top.language.iso_code_639_1.name.lower() if top is not None and top.value > 0 else UNDETERMINED
            langs[i] = code if sure or not default else default
            uncertain[i] = not sure
    return langs, uncertain


def detect_languages(texts: Sequence[str], languages: Sequence[str] | None = None,
                     default: str | None = None) -> list[str]:
    """ISO 639-1 code per text ('und' when lingua cannot decide and no default is given)."""
    return detect_with_confidence(texts, languages, default)[0]
