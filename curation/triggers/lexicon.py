"""Harm-cue lexicons: data files per language and category, matched with spaCy PhraseMatcher on LOWER and LEMMA."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from curation.core.errors import InputError
from curation.models.lexicon_files import (  # noqa: F401 - the file layer (shared with the harm model), re-exported
    LEXICON_ROOT,
    Entry,
    parse_lexicon_file,
    read_lexicon_path,
    shipped_languages,
)


@dataclass
class Lexicon:
    """All entries of one language (shipped files plus any `--lexicon` extensions)."""

    language: str
    entries: list[Entry] = field(default_factory=list)

    def categories(self) -> list[str]:
        return sorted({e.category for e in self.entries})

    def extend(self, entries: Iterable[Entry]) -> Lexicon:
        return Lexicon(self.language, [*self.entries, *entries])


def load_lexicon(language: str, extra: Sequence[Path | str] = ()) -> tuple[Lexicon, bool]:
    """The shipped lexicon of `language` (English when none is shipped) plus extensions; the bool says whether
    the language had its own lexicon."""
    own = (LEXICON_ROOT / language).is_dir()
    folder = LEXICON_ROOT / (language if own else "en")
    lexicon = Lexicon(language, read_lexicon_path(folder))
    for path in extra:
        lexicon = lexicon.extend(read_lexicon_path(path))
    return lexicon, own


@dataclass(frozen=True)
class Match:
    """A lexicon hit in a doc: token span, character span, the strongest category and its weight."""

    token_start: int
    token_end: int
    start: int
    end: int
    category: str
    weight: float


class LexiconMatcher:
    """PhraseMatchers on LOWER and (when the pipeline lemmatizes) LEMMA, so inflections match base forms."""

    def __init__(self, nlp, lexicon: Lexicon, lemma_pipe_names: Sequence[str] = ()) -> None:
        from spacy.matcher import PhraseMatcher

        self.lexicon = lexicon
        self.weights: dict[tuple[str, str], float] = {}
        by_category: dict[str, list[str]] = {}
        cased: dict[str, dict[str, str]] = {}  # lemmas are case-sensitive (German nouns): lemmatize as written
        for entry in lexicon.entries:
            key = (entry.category, entry.phrase.lower())
            self.weights[key] = max(self.weights.get(key, 0.0), entry.weight)
            by_category.setdefault(entry.category, []).append(entry.phrase.lower())
            cased.setdefault(entry.category, {}).setdefault(entry.phrase.lower(), entry.phrase)
        self.lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.lemma = PhraseMatcher(nlp.vocab, attr="LEMMA") if lemma_pipe_names else None
        self._phrase_weight: dict[tuple[str, str], float] = {}
        for category, phrases in by_category.items():
            phrases = list(dict.fromkeys(phrases))
            self.lower.add(category, [nlp.make_doc(p) for p in phrases])
            if self.lemma is not None:
                with nlp.select_pipes(enable=list(lemma_pipe_names)):
                    docs = list(nlp.pipe([cased[category][p] for p in phrases], batch_size=256))
                self.lemma.add(category, docs)
                for phrase, doc in zip(phrases, docs, strict=True):
                    lemma_key = (category, " ".join(t.lemma_.lower() for t in doc))
                    self._phrase_weight[lemma_key] = max(self._phrase_weight.get(lemma_key, 0.0),
                                                         self.weights[(category, phrase)])
            for phrase in phrases:
                key = (category, " ".join(t.lower_ for t in nlp.make_doc(phrase)))
                self._phrase_weight[key] = max(self._phrase_weight.get(key, 0.0), self.weights[(category, phrase)])

    def _weight(self, category: str, span) -> float:
        lower = " ".join(t.lower_ for t in span)
        lemma = " ".join(t.lemma_.lower() for t in span)
        return max(self._phrase_weight.get((category, lower), 0.0),
                   self._phrase_weight.get((category, lemma), 0.0)) or 1.0

    def __call__(self, doc) -> list[Match]:
        """Matches of one doc; a span hit by several categories keeps the strongest (weight, then name)."""
        best: dict[tuple[int, int], Match] = {}
        hits = list(self.lower(doc))
        if self.lemma is not None and doc.has_annotation("LEMMA"):
            hits += list(self.lemma(doc))
        for match_id, start, end in hits:
            category = doc.vocab.strings[match_id]
            span = doc[start:end]
            weight = self._weight(category, span)
            old = best.get((start, end))
            if old is None or (weight, category) > (old.weight, old.category):
                best[(start, end)] = Match(start, end, span.start_char, span.end_char, category, weight)
        return sorted(best.values(), key=lambda m: (m.start, m.end))


SPAN_LEXICON_KINDS = ("identity", "personal_info")


def load_kind_lexicon(language: str, kind: str) -> Lexicon:
    """The `<lang>/<kind>/<category>.txt` lexicon of one language (identity or group terms, personal-information
    phrases); categories are named `<kind>:<category>`. A language without the folder gets an empty lexicon (these
    terms are language-specific: no English fallback)."""
    if kind not in SPAN_LEXICON_KINDS:
        raise InputError(f"unknown span lexicon kind {kind!r}", f"use one of {', '.join(SPAN_LEXICON_KINDS)}")
    folder = LEXICON_ROOT / language / kind
    if not folder.is_dir():
        return Lexicon(language)
    return Lexicon(language, [Entry(e.phrase, f"{kind}:{e.category}", e.weight, e.origin)
                              for e in read_lexicon_path(folder)])
