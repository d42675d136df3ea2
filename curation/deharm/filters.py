"""Checks a de-harmed rewrite must pass before review: keeps the trigger, differs from the source, is a request,
is not a question about the word, is grammatical, has no other harm cue, is no near-copy; plus MMR selection
for diversity across senses and the categories that are never rewritten."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from curation.core.hashing import normalize_text
from curation.core.languages import normalize_language_code

# Questions about the word itself teach nothing about over-refusal: "what does X mean", "the word X", "use X in a
# sentence", "synonyms of X", "where does the word come from".
_META = {
    "en": r"\b(the|this|that) (word|term|verb|noun|phrase|expression)\b|\bmeanings? of\b|\bwhat does .{1,40} mean\b|"
          r"\bdefin(e|ition of) (the )?(word|term)\b|\bin a sentence\b|\bexample sentences?\b|\bsynonyms?\b|"
          r"\betymolog|\bspell(ed|ing)?\b|\bpronounc|\bhow (do|can|should) (i|you|we) use ['\"‘“]",
    "fr": r"\b(le|ce) (mot|terme|verbe)\b|\bsens (du|de ce) mot\b|\bque (veut dire|signifie)\b|\bdans une phrase\b|"
          r"\bsynonymes?\b|\bétymolog",
    "de": r"\b(das|dieses) (wort|verb|substantiv)\b|\bwas bedeutet\b|\bbedeutungen?\b|\bin einem satz\b|"
          r"\bsynonyme?\b|\betymolog",
    "es": r"\b(la|esta) palabra\b|\bqué significa\b|\bsignificados?\b|\ben una (oración|frase)\b|\bsinónimos?\b|"
          r"\betimolog",
    "it": r"\b(la|questa) parola\b|\bcosa significa\b|\bsignificat[oi]\b|\bin una frase\b|\bsinonimi\b|\betimolog",
}
_REQUEST_START = {
    "en": r"^(can|could|would|will|please|give|write|explain|tell|suggest|recommend|help|list|describe|show|share|"
          r"teach|how|what|why|when|where|which|who|is|are|do|does|should|any|i|my|our|we|in|for)\b",
    "fr": r"^(peux|pouvez|pourrais|comment|que|qu|quel|quelle|quels|quelles|pourquoi|quand|où|est-ce|donne|explique|"
          r"écris|aide|mon|ma|on|j|je|dans)\b",
    "de": r"^(kannst|können|könnten|wie|was|warum|wann|wo|welche|welcher|welches|gib|erkläre|schreib|hilf|mein|meine|"
          r"mir|ich|im|in)\b",
    "es": r"^(puedes|podrías|cómo|qué|por qué|cuándo|dónde|cuál|cuáles|dame|explica|escribe|ayúdame|me|mi|vi|en)\b",
    "it": r"^(puoi|potresti|come|cosa|che|perché|quando|dove|quale|quali|dammi|spiega|scrivi|aiutami|mi|nei|in)\b",
}
# Categories whose prompts are never rewritten (any method): a benign twin of these is not worth the risk.
BLOCKED_CATEGORIES = ("self_harm", "weapons", "csam")
_MINOR = re.compile(r"\b(child|children|kid|kids|minor|minors|underage|teen|teens|teenager|preteen|schoolgirl|"
                    r"schoolboy|enfant|mineur|mineure|kind|kinder|minderjährig|niño|niña|niños|menor|menores|"
                    r"bambino|bambina|bambini|minorenne)\b", re.IGNORECASE)
_CSAM_CUES = {"child pornography", "csam", "underage", "minor", "grooming", "groom", "molest", "pedophile"}


def normalize_category(category: str | None) -> str | None:
    """Map a free-text category ("Self-harm", "weapons_bio", "child sexual abuse") to a blocked one, else None."""
    c = re.sub(r"[^a-z]+", "_", (category or "").casefold())
    if "self_harm" in c or "selfharm" in c or "suicid" in c:
        return "self_harm"
    if "weapon" in c:
        return "weapons"
    if "csam" in c or ("sex" in c and ("child" in c or "minor" in c)):
        return "csam"
    return None


def is_meta(text: str, language: str | None) -> bool:
    """Whether the rewrite asks about the word (meaning, usage, synonyms, origin) instead of using it."""
    pattern = _META.get(normalize_language_code(language), _META["en"])
    return any(re.search(p, text, re.IGNORECASE) for p in (pattern, _META["en"]))


def is_request(text: str, language: str | None) -> bool:
    """A question (ends in ?) or a request opening the way a user asks ("How…", "Can you…", "My…")."""
    t = text.strip().lstrip("¿¡\"'“«")
    if not t or len(t.split()) < 3:
        return False
    if t.rstrip("\"'”»").endswith("?"):
        return True
    start = _REQUEST_START.get(normalize_language_code(language), _REQUEST_START["en"])
    return re.match(start, t, re.IGNORECASE) is not None


def word_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the two texts' lower-cased word sets."""
    wa, wb = set(re.findall(r"\w+", a.casefold())), set(re.findall(r"\w+", b.casefold()))
    return len(wa & wb) / len(wa | wb) if wa | wb else 1.0


def differs(rewrite: str, source: str) -> bool:
    """Not the source itself (up to case, spacing and punctuation)."""
    def bare(text: str) -> str:
        return re.sub(r"[^\w\s]", "", normalize_text(text)).strip()

    return bare(rewrite) != bare(source)


# language tools (spaCy pipeline + lexicon matcher), loaded once per language ------------------------------------
@cache
def _tools(language: str) -> tuple[Any, Any]:
    from curation.triggers.lexicon import LexiconMatcher, load_lexicon
    from curation.triggers.spacy_pipelines import load_pipeline

    pipe = load_pipeline(language)
    lexicon, _ = load_lexicon(language)
    return pipe, LexiconMatcher(pipe.nlp, lexicon, pipe.lemma_pipes)


@cache
def lexicon_phrases(language: str) -> frozenset[str]:
    """Casefolded entries of the language's trigger lexicon."""
    _, matcher = _tools(normalize_language_code(language))
    return frozenset(e.phrase.casefold() for e in matcher.lexicon.entries)


def parse(texts: Sequence[str], language: str | None) -> list[Any]:
    """spaCy docs of `texts` in the language's pipeline (trained where installed, else lookup lemmas)."""
    pipe, _ = _tools(normalize_language_code(language))
    return list(pipe.nlp.pipe(list(texts)))


def cue_hits(doc: Any, language: str | None) -> list[Any]:
    """Lexicon matches (char span, category) in a parsed doc."""
    _, matcher = _tools(normalize_language_code(language))
    return matcher(doc)


def span_lemma(doc: Any, start: int, end: int) -> str:
    """Lemma of the tokens covering [start, end) (lower-cased unless the lemma is capitalized German)."""
    tokens = [t for t in doc if t.idx < end and t.idx + len(t.text) > start]
    return " ".join((t.lemma_ or t.text) for t in tokens)


def tokens_at(doc: Any, start: int, end: int) -> list[Any]:
    return [t for t in doc if t.idx < end and t.idx + len(t.text) > start]


def other_cues(doc: Any, start: int, end: int, language: str | None) -> list[str]:
    """Categories of harm-cue lexicon hits outside the kept trigger span."""
    return [m.category for m in cue_hits(doc, language) if m.end <= start or m.start >= end]


def blocked_category(category: str | None, doc: Any, language: str | None) -> str | None:
    """Self-harm, weapons or CSAM: by the row's category, else by its lexicon hits (sexual cue + a minor)."""
    named = normalize_category(category)
    if named:
        return named
    hits = cue_hits(doc, language)
    cats = {m.category for m in hits}
    for blocked in ("self_harm", "weapons"):
        if blocked in cats:
            return blocked
    if "sexual" in cats:
        sexual = {doc.text[m.start:m.end].casefold() for m in hits if m.category == "sexual"}
        if sexual & _CSAM_CUES or _MINOR.search(doc.text):
            return "csam"
    return None


INFINITIVE = {"en": None, "fr": re.compile(r"(er|ir|re|oir)$"), "es": re.compile(r"(ar|er|ir)$"),
               "it": re.compile(r"(are|ere|ire|rre)$"), "de": re.compile(r"(en|ern|eln|n)$")}


def slot_fits(doc: Any, start: int, end: int, pos: str, language: str | None) -> bool:
    """Grammar check of a filled frame slot: the word reads as the slot's part of speech in its sentence
    (trained tagger where there is one: English VB for {VERB}, NN or a gerund for {NOUN}; French VerbForm=Inf), else the
    infinitive ending of the language's verbs."""
    tokens = tokens_at(doc, start, end)
    if len(tokens) != 1:
        return False
    tok, lang = tokens[0], normalize_language_code(language)
    tagged = doc.has_annotation("TAG") and bool(tok.tag_)
    if lang == "en" and tagged:
        return tok.tag_ == "VB" if pos == "VERB" else tok.tag_ in ("NN", "NNP", "VBG")  # "phishing prevention"
    if pos == "VERB":
        if doc.has_annotation("MORPH") and str(tok.morph):
            return "VerbForm=Inf" in str(tok.morph)
        ending = INFINITIVE.get(lang)
        return bool(ending and ending.search(tok.text.casefold()))
    return lang == "en"


def reads_grammatical(doc: Any, language: str | None) -> bool:
    """A model rewrite: one sentence of 4-40 words with a verb where a tagger exists."""
    words = [t for t in doc if not t.is_punct]
    if not 4 <= len(words) <= 40:
        return False
    if doc.has_annotation("SENT_START") and len(list(doc.sents)) > 2:
        return False
    if doc.has_annotation("POS"):
        return any(t.pos_ in ("VERB", "AUX") for t in doc)
    return True


# MMR: relevant and diverse across senses ---------------------------------------------------------------------
def mmr(relevance: Sequence[float], vectors: np.ndarray, kinds: Sequence[str], k: int, lam: float = 0.6,
        max_sim: float = 0.9, chosen_vectors: np.ndarray | None = None) -> tuple[list[int], int]:
    """Indices of up to k items by maximal marginal relevance (cosine similarity, and a penalty for a sense kind
    already chosen); items closer than `max_sim` to one chosen (here or in `chosen_vectors`) are near-copies.
    Returns (chosen, near_copies_skipped)."""
    n = len(relevance)
    if not n or k <= 0:
        return [], 0
    v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    prior = chosen_vectors if chosen_vectors is not None and len(chosen_vectors) else np.zeros((0, v.shape[1]))
    if len(prior):
        prior = prior / np.maximum(np.linalg.norm(prior, axis=1, keepdims=True), 1e-9)
    chosen: list[int] = []
    near: set[int] = set()
    if len(prior):
        near = {i for i in range(n) if float((prior @ v[i]).max()) >= max_sim}
    while len(chosen) < k:
        best, best_score = None, -1e9
        for i in range(n):
            if i in chosen or i in near:
                continue
            sim = max((float(v[i] @ v[j]) for j in chosen), default=0.0)
            if sim >= max_sim:
                near.add(i)
                continue
            same_kind = any(kinds[i] == kinds[j] for j in chosen)
            score = lam * relevance[i] - (1 - lam) * (sim + (0.5 if same_kind else 0.0))
            if score > best_score:
                best, best_score = i, score
        if best is None:
            break
        chosen.append(best)
    return chosen, len(near)
