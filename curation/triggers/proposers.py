"""Trigger-span proposers, registered by versioned name. Each votes on candidate spans of a batch of rows:
lexicon and syntactic proposers add candidates from the spaCy doc, occlusion proposers score them."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from curation.core.errors import ModelError
from curation.core.registry import proposers
from curation.models.probe import margin_to_proba
from curation.triggers.attribution import ScoreFn, occlusion_drops, probe_score_fn
from curation.triggers.candidates import Row
from curation.triggers.lexicon import LexiconMatcher, load_kind_lexicon, load_lexicon, read_lexicon_path

log = logging.getLogger(__name__)

LEXICON_FALLBACK_FLAG = "english_lexicon"
NO_PROBE_FLAG = "no_probe"

# Verbs that wrap a request ("tell me how to ...", "can you help me ...") rather than carry it.
WRAPPER_VERBS = frozenset({
    "be", "do", "have", "can", "could", "would", "should", "will", "may", "might", "must", "shall", "tell",
    "explain", "show", "help", "give", "write", "describe", "want", "need", "know", "teach", "list", "provide",
    "let", "please", "try", "like", "wonder", "ask", "suggest", "recommend", "learn", "say", "think", "mean",
    "outline", "detail", "share", "create", "generate", "draft", "compose", "find", "use", "go", "work", "keep",
    "develop", "design", "devise", "produce",
})
# Aspectual and control verbs that take the request's verb as their complement ("start trafficking", "manage to
# steal"): the complement carries the request, so they are passed through like wrappers when they have one.
ASPECT_VERBS = frozenset({"start", "begin", "stop", "continue", "quit", "finish", "manage", "attempt", "plan",
                          "intend", "decide", "get", "seem", "happen", "dare", "bother", "hope", "able"})
COMPLEMENT_DEPS = frozenset({"xcomp", "ccomp"})
# Nouns that frame a request ("the best way to", "step-by-step instructions") rather than carry its content.
FRAME_NOUNS = frozenset({
    "way", "ways", "step", "steps", "instruction", "instructions", "method", "methods", "guide", "tutorial", "tip",
    "tips", "list", "example", "examples", "idea", "ideas", "thing", "things", "something", "someone", "anyone",
    "anything", "detail", "details", "question", "answer", "plan", "advice", "technique", "techniques", "kind",
    "sort", "type", "lot", "bit", "time", "people", "person", "home", "help", "information", "info", "option",
})
OBJECT_DEPS = frozenset({"dobj", "obj", "attr", "oprd", "nsubjpass", "obl"})
CONTENT_POS = frozenset({"NOUN", "VERB", "ADJ", "PROPN", "X", ""})
# Evidence a syntactic role gives (the combine weight of the syntactic agent scales it further).
SYNTACTIC_EVIDENCE = {"verb": 0.6, "phrasal": 0.6, "idiom": 0.4, "target": 0.5, "entity": 0.35, "chunk": 0.3,
                      "word": 0.25}
# Particles that make a phrasal verb ("take out", "do away with", "get rid of") and the prepositions that can close it.
PARTICLES = frozenset({"out", "off", "up", "down", "away", "over", "in", "back", "rid", "around"})
CLOSING_PREPS = frozenset({"with", "of", "on"})
WHOLE_ENTITIES = frozenset({"PERSON", "ORG", "GPE", "NORP", "FAC", "LOC"})


class Proposer(Protocol):
    """Votes on the candidates of a batch of rows, in place."""

    name: str

    def __call__(self, rows: list[Row]) -> None: ...


@dataclass
class ProposerContext:
    """What factories may need: the stage config, the workspace, objects injected by the caller."""

    cfg: Any
    workspace_root: Path | None = None
    direction: Any = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


# lexicon ------------------------------------------------------------------------------------------------------
class LexiconProposer:
    """Harm-cue lexicon hits (LOWER and LEMMA PhraseMatchers), evidence = the entry's weight."""

    def __init__(self, name: str, extra_paths: Sequence[str]) -> None:
        self.name = name
        self.extra_paths = tuple(str(p) for p in extra_paths)
        for path in self.extra_paths:  # fail on a bad file before any work, naming file and line
            read_lexicon_path(path)
        self._matchers: dict[str, tuple[LexiconMatcher, bool]] = {}

    def matcher(self, row: Row) -> tuple[LexiconMatcher, bool]:
        key = f"{row.pipeline.language}:{row.pipeline.model}:{id(row.pipeline.nlp)}"  # a matcher serves one Vocab
        if key not in self._matchers:
            lexicon, own = load_lexicon(row.pipeline.language, self.extra_paths)
            self._matchers[key] = (LexiconMatcher(row.pipeline.nlp, lexicon, row.pipeline.lemma_pipes), own)
        return self._matchers[key]

    def __call__(self, rows: list[Row]) -> None:
        for row in rows:
            if row.doc is None:
                continue
            matcher, own = self.matcher(row)
            if not own:
                row.flag(LEXICON_FALLBACK_FLAG)
            for m in matcher(row.doc):
                cand = row.candidate(m.start, m.end, "cue", m.token_end - m.token_start)
                if m.weight >= cand.evidence.get(self.name, 0.0):
                    cand.category = m.category
                cand.vote(self.name, m.weight)


@proposers.register("lexicon.v1")
def make_lexicon_proposer(ctx: ProposerContext, lexicons: Sequence[str] = ()) -> Proposer:
    """Shipped lexicons of the row's language plus `lexicons` (and the stage's `--lexicon` paths)."""
    return LexiconProposer("lexicon.v1", [*getattr(ctx.cfg, "lexicons", []), *lexicons])


class KindLexiconProposer:
    """Identity / group terms or personal-information phrases of the row's language (`<lang>/<kind>/*.txt`): the
    cue of a discriminatory or privacy question; evidence = the entry's weight, category `<kind>:<category>`."""

    def __init__(self, name: str, kind: str) -> None:
        self.name = name
        self.kind = kind
        self._matchers: dict[str, LexiconMatcher | None] = {}

    def matcher(self, row: Row) -> LexiconMatcher | None:
        key = f"{row.pipeline.language}:{row.pipeline.model}:{id(row.pipeline.nlp)}"
        if key not in self._matchers:
            lexicon = load_kind_lexicon(row.pipeline.language, self.kind)
            self._matchers[key] = (LexiconMatcher(row.pipeline.nlp, lexicon, row.pipeline.lemma_pipes)
                                   if lexicon.entries else None)
        return self._matchers[key]

    def __call__(self, rows: list[Row]) -> None:
        for row in rows:
            if row.doc is None:
                continue
            matcher = self.matcher(row)
            for m in matcher(row.doc) if matcher is not None else ():
                cand = row.candidate(m.start, m.end, self.kind, m.token_end - m.token_start)
                if cand.category is None:
                    cand.category = m.category
                cand.vote(self.name, m.weight)


@proposers.register("identity.v1")
def make_identity_proposer(ctx: ProposerContext) -> Proposer:
    """Identity and group terms per language (religion, ethnicity, nationality, sexuality/gender, disability, age)."""
    return KindLexiconProposer("identity.v1", "identity")


@proposers.register("personal_info.v1")
def make_personal_info_proposer(ctx: ProposerContext) -> Proposer:
    """Personal-information phrases per language (address, date of birth, medical records, ...)."""
    return KindLexiconProposer("personal_info.v1", "personal_info")


# syntactic ----------------------------------------------------------------------------------------------------
def _trimmed(span) -> tuple[int, int] | None:
    """Token bounds of a span without leading determiners, pronouns and stopwords; None when nothing is left."""
    start, end = span.start, span.end
    while start < end and (span.doc[start].pos_ in ("DET", "PRON") or span.doc[start].is_stop
                           or not span.doc[start].text.strip() or span.doc[start].is_punct):
        start += 1
    while end > start and (span.doc[end - 1].is_punct or not span.doc[end - 1].text.strip()):
        end -= 1
    return (start, end) if end > start else None


def _passes_through(tok) -> bool:
    """A wrapper verb, or an aspectual/control verb whose verb complement carries the request."""
    lemma = tok.lemma_.lower()
    if lemma in WRAPPER_VERBS or tok.is_stop:
        return True
    return lemma in ASPECT_VERBS and any(c.dep_ in COMPLEMENT_DEPS and c.pos_ == "VERB" for c in tok.children)


def main_verbs(doc) -> list:
    """The verbs carrying each sentence's request: the shallowest non-wrapper verbs under the root (all of them at
    that depth: "find where she sleeps so I can scare her" gives both clauses' verbs)."""
    found = []
    for sent in doc.sents:
        level, seen = [sent.root], set()
        while level:
            hits = [t for t in level if t.pos_ == "VERB" and not _passes_through(t)]
            if hits:
                found.extend(hits)
                break
            seen.update(t.i for t in level)
            level = [c for t in level for c in t.children if c.i not in seen]
    return found


def verb_objects(verb) -> list:
    """Direct objects of a verb, or objects of its prepositions ("kill" -> "process", "break into" -> "house")."""
    objs = [c for c in verb.children if c.dep_ in OBJECT_DEPS and c.pos_ in ("NOUN", "PROPN")]
    if not objs:
        objs = [g for c in verb.children if c.dep_ in ("prep", "prt", "case")
                for g in c.children if g.dep_ in ("pobj", "obj") and g.pos_ in ("NOUN", "PROPN")]
    return objs


def phrasal_verbs(doc) -> list[tuple[int, int]]:
    """Token bounds of contiguous phrasal verbs: verb + particle(s) [+ closing preposition], and "get rid of"."""
    found = []
    for tok in doc:
        if tok.pos_ not in ("VERB", "AUX") or tok.i + 1 >= len(doc):
            continue
        end = tok.i + 1
        while end < len(doc) and doc[end].lower_ in PARTICLES and (
                doc[end].dep_ in ("prt", "advmod", "acomp") or (doc[end].lower_ == "rid" and tok.lemma_ == "get")):
            end += 1
        if end == tok.i + 1 or (tok.pos_ == "AUX" and tok.lemma_ != "get"):
            continue
        if end < len(doc) and doc[end].lower_ in CLOSING_PREPS and doc[end - 1].lower_ in ("away", "rid", "up"):
            end += 1
        found.append((tok.i, end))
    return found


def verb_object_idioms(verb) -> list[tuple[int, int]]:
    """Token bounds of verb + direct object when contiguous and short ("kill time", "bury the hatchet")."""
    out = []
    for obj in verb.children:
        if obj.dep_ in ("dobj", "obj") and 0 < obj.i - verb.i <= 3 and all(
                t.pos_ in ("DET", "PRON", "ADJ") or t.dep_ == "prt" for t in verb.doc[verb.i + 1: obj.i]):
            out.append((verb.i, obj.i + 1))
    return out


def hyphen_compounds(doc) -> list[tuple[int, int]]:
    """Token bounds of words joined by hyphens without spaces ("self-defence", "fourteen-year-old")."""
    found, i = [], 0
    while i < len(doc):
        j = i
        while (j + 2 < len(doc) and doc[j].is_alpha and doc[j + 1].text == "-" and doc[j + 2].is_alpha
               and not doc[j].whitespace_ and not doc[j + 1].whitespace_):
            j += 2
        if j > i:
            found.append((i, j + 1))
        i = j + 1
    return found


def possessed_phrases(doc) -> list[tuple[int, int]]:
    """Token bounds of what a possessor owns, without the possessor ("Elon Musk's net worth" -> "net worth", "my
    neighbour's licence plate" -> "licence plate"): the personal-information phrase of a privacy question is the
    possessed noun with its compounds and modifiers, while the noun chunk also holds the person."""
    found = []
    for tok in doc:
        if tok.dep_ != "poss" or tok.head.pos_ not in ("NOUN", "PROPN") or tok.head.i <= tok.i:
            continue
        start = max(t.i for t in tok.subtree) + 1
        while start < tok.head.i and (doc[start].dep_ == "case" or doc[start].tag_ == "POS" or doc[start].is_punct):
            start += 1
        if 1 < tok.head.i + 1 - start <= 4:  # one word is a word candidate already
            found.append((start, tok.head.i + 1))
    return found


class SyntacticProposer:
    """Main verb + its object (from the dependency parse), phrasal verbs and verb + object idioms, noun chunks,
    possessed phrases without their possessor, whole named entities (no word spans inside a name) and content words."""

    def __init__(self, name: str, content_words: bool = True) -> None:
        self.name = name
        self.content_words = content_words

    def _add(self, row: Row, start_tok: int, end_tok: int, role: str) -> None:
        doc = row.doc
        span = doc[start_tok:end_tok]
        cand = row.candidate(span.start_char, span.end_char, role, end_tok - start_tok)
        cand.vote(self.name, SYNTACTIC_EVIDENCE[role])

    def __call__(self, rows: list[Row]) -> None:
        for row in rows:
            doc = row.doc
            if doc is None:
                continue
            if self.content_words:
                joined = hyphen_compounds(doc)
                inside = {i for a, b in joined for i in range(a, b)}
                for a, b in joined:  # "self-defence", "fourteen-year-old": one word, not its pieces
                    self._add(row, a, b, "word")
                for tok in doc:
                    if (tok.i not in inside and tok.is_alpha and not tok.is_stop and len(tok) > 1
                            and tok.pos_ in CONTENT_POS and tok.lower_ not in FRAME_NOUNS
                            and tok.lemma_.lower() not in WRAPPER_VERBS):
                        self._add(row, tok.i, tok.i + 1, "word")
            if doc.has_annotation("DEP"):
                for chunk in doc.noun_chunks:
                    bounds = _trimmed(chunk)
                    if bounds and bounds[1] - bounds[0] > 1:
                        self._add(row, *bounds, "chunk")
                for verb in main_verbs(doc):
                    self._add(row, verb.i, verb.i + 1, "verb")
                    for obj in verb_objects(verb):
                        if not obj.is_stop:
                            self._add(row, obj.i, obj.i + 1, "target")
                    for start, end in verb_object_idioms(verb):
                        self._add(row, start, end, "idiom")
                for start, end in phrasal_verbs(doc):
                    self._add(row, start, end, "phrasal")
                for start, end in possessed_phrases(doc):
                    self._add(row, start, end, "chunk")
            names = []
            for ent in doc.ents:
                bounds = _trimmed(ent)
                if bounds and ent.label_ not in ("CARDINAL", "ORDINAL", "QUANTITY", "PERCENT", "DATE", "TIME"):
                    self._add(row, *bounds, "entity")
                    if ent.label_ in WHOLE_ENTITIES and bounds[1] - bounds[0] > 1:
                        names.append((doc[bounds[0]].idx, doc[bounds[1] - 1].idx + len(doc[bounds[1] - 1])))
            for a, b in names:  # one span per name: drop word / chunk spans inside it ("Joe", "Biden")
                for key in [k for k, c in row.candidates.items() if a <= k[0] and k[1] <= b and k != (a, b)
                            and c.role in ("word", "chunk", "target") and c.category is None]:
                    del row.candidates[key]


@proposers.register("syntactic.v1")
def make_syntactic_proposer(ctx: ProposerContext, content_words: bool = True) -> Proposer:
    return SyntacticProposer("syntactic.v1", content_words)


# occlusion (shared by the probe and the refusal direction) ----------------------------------------------------
class OcclusionProposer:
    """Masks each candidate and scores the drop of `score_fn`; evidence = drop per sqrt(tokens), relative to the
    prompt's largest drop (floored at `tau`, so tiny drops stay tiny; `tau=None` when the score has no known scale)."""

    def __init__(self, name: str, score_fn: ScoreFn, max_candidates: int = 16, tau: float | None = 0.5,
                 min_drop: float = 0.02, proba_fn: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        self.name = name
        self.score_fn = score_fn
        self.max_candidates = max_candidates
        self.tau = tau
        self.min_drop = min_drop
        self.proba_fn = proba_fn

    def __call__(self, rows: list[Row]) -> None:
        live = [r for r in rows if r.candidates]
        if not live:
            return
        chosen = [sorted(r.candidates.values(), key=lambda c: (-c.prior, c.start))[: self.max_candidates]
                  for r in live]
        full, drops = occlusion_drops([r.text for r in live], [[(c.start, c.end) for c in cs] for cs in chosen],
                                      self.score_fn)
        probas = self.proba_fn(full) if self.proba_fn is not None else None
        for i, (row, cands, drop) in enumerate(zip(live, chosen, drops, strict=True)):
            per_token = np.array([d / c.n_tokens for c, d in zip(cands, drop, strict=True)])
            top = max(float(per_token.max(initial=0.0)), self.tau if self.tau is not None else 1e-12)
            for cand, raw, norm in zip(cands, drop, per_token, strict=True):
                cand.attribution[self.name] = float(raw)
                if norm > self.min_drop * top:
                    cand.vote(self.name, min(1.0, float(norm) / top))
            if probas is not None and row.p_harmful is None:
                row.p_harmful = float(probas[i])
            if self.name == "probe_occlusion.v1" and row.margin is None:
                row.margin = float(full[i])


@proposers.register("probe_occlusion.v1")
def make_probe_occlusion(ctx: ProposerContext, probe_path: str | None = None, max_candidates: int | None = None,
                         tau: float = 0.5, min_drop: float = 0.02) -> Proposer | None:
    """Occlusion on the embedding probe's margin. Without a fitted probe: an error when the config requires
    one, else None (the stage runs without it and flags rows `no_probe`)."""
    from curation.models.embeddings import encoder_from_spec, workspace_cache
    from curation.models.probe import Probe, default_probe_dir

    cfg = ctx.cfg
    path = probe_path or cfg.probe_path or (default_probe_dir(ctx.workspace_root, cfg.probe)
                                            if ctx.workspace_root else None)
    if not (probe_path or cfg.probe_path) and ctx.workspace_root is not None:
        from curation.models.probe_routing import ProbeRouter

        router = ProbeRouter(ctx.workspace_root, cfg.probe, cfg.device, linear_only=True)  # smooth margin
        if router.has_language_probes():
            return LanguageOcclusionProposer("probe_occlusion.v1", router, ctx, max_candidates or cfg.max_candidates,
                                             tau, min_drop)
    if path is None or not (Path(path) / "probe.json").exists():
        where = path or "(no workspace)"
        if cfg.require_probe:
            raise ModelError(f"triggers: no harmfulness probe at {where}",
                             "fit one with `curate probe fit --harmful X --harmless Y`, or drop probe_occlusion.v1")
        warnings.warn(f"triggers: no harmfulness probe at {where}; running without occlusion attribution "
                      "(rows flagged 'no_probe'; fit one with `curate probe fit`)", stacklevel=2)
        ctx.missing.append(NO_PROBE_FLAG)
        return None
    probe = Probe.load(Path(path))
    encoder = encoder_from_spec(probe.model_id, cfg.device)
    cache = workspace_cache(ctx.workspace_root, encoder.model_id) if ctx.workspace_root else None
    if cache is not None:
        ctx.closers.append(cache.close)
    return OcclusionProposer("probe_occlusion.v1", probe_score_fn(probe, encoder, cache, cfg.embed_batch_size),
                             max_candidates or cfg.max_candidates, tau, min_drop,
                             proba_fn=margin_to_proba)


class LanguageOcclusionProposer:
    """Probe occlusion with each row's language probe (`curate probe fit --per-language`): the probe lives in one
    encoder's space, so French rows are occluded against the French (or joint multilingual) probe on its encoder.
    Rows scored by a fallback probe are flagged `joint_probe` / `base_probe`."""

    def __init__(self, name: str, router: Any, ctx: ProposerContext, max_candidates: int, tau: float | None,
                 min_drop: float) -> None:
        self.name = name
        self.router = router
        self.ctx = ctx
        self.options = (max_candidates, tau, min_drop)
        self._by_probe: dict[str, OcclusionProposer] = {}

    def _proposer(self, routed: Any) -> OcclusionProposer:
        from curation.models.embeddings import workspace_cache

        if routed.name not in self._by_probe:
            encoder = self.router.encoder(routed.probe)
            cache = workspace_cache(self.ctx.workspace_root, encoder.model_id)
            self.ctx.closers.append(cache.close)
            score_fn = probe_score_fn(routed.probe, encoder, cache, self.ctx.cfg.embed_batch_size)
            self._by_probe[routed.name] = OcclusionProposer(self.name, score_fn, *self.options,
                                                            proba_fn=margin_to_proba)
        return self._by_probe[routed.name]

    def score_rows(self, rows: Sequence[Row], texts: Sequence[str]) -> np.ndarray:
        """Margins of `texts[i]` under the probe `rows[i]` is routed to (the span alone, scored like its prompt)."""
        out = np.zeros(len(texts), dtype=np.float64)
        for routed, idx in self.router.groups([r.language for r in rows]).values():
            scores = self._proposer(routed).score_fn([texts[i] for i in idx])
            out[idx] = np.asarray(scores, dtype=np.float64).reshape(-1)
        return out

    def __call__(self, rows: list[Row]) -> None:
        for routed, idx in self.router.groups([r.language for r in rows]).values():
            chosen = [rows[i] for i in idx]
            for row in chosen:
                row.probe = routed.name
                if routed.fallback:
                    row.flag(routed.fallback)
            self._proposer(routed)(chosen)


@proposers.register("direction_occlusion.v1")
def make_direction_occlusion(ctx: ProposerContext, path: str | None = None, max_candidates: int | None = None,
                             tau: float | None = None, min_drop: float = 0.02, batch_size: int = 16) -> Proposer:
    """Occlusion on a model's refusal-direction projection (`curate boundary fit-direction`)."""
    cfg = ctx.cfg
    direction = ctx.direction
    if direction is None:
        from curation.models.refusal_direction.direction import RefusalDirection

        path = path or cfg.direction
        if not path:
            raise ModelError("triggers: direction_occlusion.v1 needs a refusal direction",
                             "pass --direction PATH (see `curate boundary fit-direction`)")
        direction = RefusalDirection.load(path, cfg.device)
    score_fn = _direction_score_fn(direction, ctx, batch_size)
    metrics = getattr(direction, "metrics", {}) or {}
    if tau is None:
        hi, lo = metrics.get("harmful_mean"), metrics.get("harmless_mean")
        # a quarter of the gap between the class means; without them the scale is unknown: relative evidence only
        tau = 0.25 * abs(hi - lo) if hi is not None and lo is not None and hi != lo else None
    proba_fn = getattr(direction, "uncalibrated_p_refuse", None)
    return OcclusionProposer("direction_occlusion.v1", score_fn, max_candidates or cfg.max_candidates, tau, min_drop,
                             proba_fn)


def _direction_score_fn(direction: Any, ctx: ProposerContext, batch_size: int) -> ScoreFn:
    """`direction.score_texts`, with the workspace activation cache when it is a real RefusalDirection."""
    if ctx.workspace_root is not None and hasattr(direction, "load_model"):
        try:
            from curation.models.refusal_direction.activations import workspace_activation_cache

            lm = direction.load_model()
            cache = workspace_activation_cache(ctx.workspace_root, lm)
            ctx.closers.append(cache.close)
            return lambda texts: direction.score_texts(texts, lm=lm, cache=cache, batch_size=batch_size)
        except ImportError:  # pragma: no cover - boundary stage not installed
            log.info("no activation cache available; scoring the direction without one")
    return lambda texts: direction.score_texts(list(texts))
