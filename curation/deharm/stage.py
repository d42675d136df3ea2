"""De-harm stage: benign requests a user would actually type that keep a prompt's trigger word in a real benign
sense (homonym, figurative, safe target, safe context, education, safety advice), filtered, answered by a local
model, for review in Argilla (`deharm_review`) and then the `sft` / `dpo` builds.

Reads `prompt` plus `gold_trigger_spans` (adjudicated) or `trigger_spans` (pipeline). A span is rewritten when its
lemma is a trigger lexicon entry (its senses in curation/data/senses/<lang>.yaml first, then the POS-typed frames
of curation/data/deharm_templates.yaml) or it carries a benign-capable label (chat-model rewrites). Every drop is
counted in the DeharmReport by filter. Prompts of the self-harm, weapons and CSAM categories are never rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset, Features, Value
from pydantic import BaseModel, ConfigDict, Field

from curation.core import columns as C
from curation.core.errors import ConfigError, InputError
from curation.core.hashing import normalize_text, record_id
from curation.core.report import StageReport
from curation.deharm import filters as F
from curation.deharm.answers import SHORT_ANSWER, check_answers, generate_answers
from curation.deharm.filters import word_overlap
from curation.deharm.senses import KINDS, Candidate, entry_candidates, entry_pos, frame_candidates, load_frames

__all__ = ["DeharmConfig", "DeharmReport", "run", "push", "benign_triggers", "trigger_pairs", "has_trigger",
           "clean_rewrite", "word_overlap", "harmfulness", "load_frames"]

DEHARM_SCHEMA = "deharm_review"
BENIGN_HOMONYM = "benign_homonym"
REWRITE_INSTRUCTION = ("Write one short, harmless question a person might ask that uses the word '{trigger}' in an "
                       "everyday sense (cooking, sports, computers, games, films, history or safety). Keep the word "
                       "'{trigger}'. Reply with the question only.")
TEXT_COLUMNS = (C.ID, "original_id", "original_prompt", "highlighted", "rewrite", "answer", "trigger", "lemma",
                "method", "sense", "sense_gloss", C.LANGUAGE, C.CATEGORY, C.SOURCE, C.GENERATED_BY, "finish_reason",
                "answer_issue")
OUTPUT_FEATURES = Features({**{name: Value("string") for name in TEXT_COLUMNS},
                            "p_harmful": Value("float64"), "answer_p_harmful": Value("float64")})
_PREFIX = re.compile(r"^\s*(?:rewritten\s+)?(?:question|rewrite|prompt|request)\s*:\s*", re.IGNORECASE)


class DeharmConfig(BaseModel):
    """Options of `curate deharm`."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    templates: str | None = Field(None, description="Generic frame YAML (default: the built-in one).")
    senses: list[str] | None = Field(None, description=f"Sense kinds to use (default all: {', '.join(KINDS)}).")
    templates_per_pair: int = Field(2, ge=0, description="Rewrites kept per (prompt, trigger) pair, chosen by MMR "
                                                         "across senses.")
    model: str = Field("smollm2", description="Local chat model for rewrites; also answers unless answer_model.")
    answer_model: str | None = Field(None, description="Local model that answers (default: `model`).")
    model_rewrites: bool = Field(True, description="Also ask the chat model for one rewrite per pair (filtered).")
    answer: bool = Field(True, description="Answer every rewrite with the model.")
    span_labels: list[str] = Field(default_factory=lambda: [BENIGN_HOMONYM],
                                   description="Span labels that make a non-lexicon word rewritable by the model.")
    max_pairs: int | None = Field(None, ge=1, description="Use at most this many (prompt, trigger) pairs.")
    probe_path: str | None = Field(None, description="Harm model (probe folder): rewrites need P(harmful) <= "
                                                     "max_p_harmful - margin; answers need P < max_p_harmful.")
    allow_unscored: bool = Field(False, description="Run without a harm model (rewrites are then unscored).")
    max_p_harmful: float = Field(0.5, gt=0, le=1)
    margin: float = Field(0.15, ge=0, lt=1, description="Benign with margin: P(harmful) <= max_p_harmful - margin.")
    max_overlap: float = Field(0.7, gt=0, le=1, description="Rewrites sharing more of their words with the source "
                                                             "(Jaccard) are near-copies and are dropped.")
    max_similarity: float = Field(0.9, gt=0, le=1, description="Rewrites closer (MiniLM cosine) to a kept one are "
                                                                "near-copies.")
    mmr_lambda: float = Field(0.6, ge=0, le=1, description="MMR trade-off: relevance vs diversity across senses.")
    keep_failed_answers: bool = Field(False, description="Keep rewrites whose answer failed a check, flagged in "
                                      "`answer_issue` (builds skip them unless a reviewer wrote an edited answer).")
    judge: str = Field("string_match", description="Refusal judge the answers must pass as full_compliance.")
    rewrite_max_new_tokens: int = Field(40, ge=1)
    answer_max_new_tokens: int = Field(512, ge=1, description="Answer budget; answers that hit it are dropped as "
                                                               "truncated.")
    answer_system: str | None = Field(SHORT_ANSWER, description="System prompt of the answering model (asks for a "
                                                                "short, complete answer; None: the model's default).")
    batch_size: int = Field(8, ge=1)
    device: str = "cpu"


@dataclass
class DeharmReport(StageReport):
    """What the stage did: pairs found, rewrites made and dropped (per filter), answers dropped (per reason)."""

    triggers: list[str] = field(default_factory=list)
    pairs: int = 0
    blocked: dict[str, int] = field(default_factory=dict)
    candidates: int = 0
    template_rewrites: int = 0
    model_rewrites: int = 0
    model_dropped: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    probe_dropped: int = 0
    duplicates: int = 0
    not_selected: int = 0
    answers_dropped: dict[str, int] = field(default_factory=dict)
    unanswered: int = 0
    senses_per_trigger: dict[str, int] = field(default_factory=dict)
    rows: int = 0

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n


# input: trigger spans and the prompts holding them -------------------------------------------------------------
def _word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(word) + r"(?!\w)", re.IGNORECASE)


def has_trigger(text: str, trigger: str) -> bool:
    """Whether `trigger` occurs in `text` as a whole word (case-insensitive)."""
    return bool(trigger) and _word_pattern(trigger).search(text or "") is not None


def _trigger_span_column(ds: Dataset) -> tuple[str, list[Any]]:
    """The trigger-span column to read (the adjudicated gold one first) and its values."""
    gold = C.GOLD_PREFIX + C.TRIGGER_SPANS
    for column in (gold, C.TRIGGER_SPANS):
        if column in ds.column_names:
            return column, ds[column]
    raise InputError(f"deharm: the dataset has neither '{gold}' nor '{C.TRIGGER_SPANS}' (columns: "
                     f"{', '.join(ds.column_names)})", "run the triggers stage, or pass the gold of a trigger_spans "
                     "annotation (`curate adjudicate run NAME`)")


def benign_triggers(ds: Dataset, labels: list[str] | tuple[str, ...] = (BENIGN_HOMONYM,)) -> list[str]:
    """Trigger words (as written, first occurrence wins, casefold-unique) of spans carrying one of `labels`."""
    _, spans = _trigger_span_column(ds)
    found: dict[str, str] = {}
    for prompt, row_spans in zip(ds[C.PROMPT], spans, strict=True):
        for span in row_spans or []:
            if span.get("label") in labels:
                word = (span.get("text") or prompt[int(span["start"]):int(span["end"])]).strip()
                if word:
                    found.setdefault(word.casefold(), word)
    return sorted(found.values(), key=str.casefold)


def _labels(ds: Dataset) -> list[Any]:
    if C.GOLD_PREFIX + "harmfulness" in ds.column_names:
        return ds[C.GOLD_PREFIX + "harmfulness"]
    return ds[C.LABEL] if C.LABEL in ds.column_names else [None] * len(ds)


def _guess_pos(token: Any, lemma: str, language: str) -> str | None:
    if token is not None and token.pos_ in ("VERB", "NOUN"):
        return token.pos_
    if language == "de":
        return "NOUN" if lemma[:1].isupper() else "VERB" if lemma.endswith("n") else None
    ending = F.INFINITIVE.get(language)
    if ending is not None and ending.search(lemma):
        return "VERB"
    return None


def trigger_pairs(ds: Dataset, triggers: list[str] | None = None, limit: int | None = None,
                  span_labels: tuple[str, ...] | list[str] = (BENIGN_HOMONYM,),
                  report: DeharmReport | None = None) -> list[dict[str, Any]]:
    """One pair per (row, trigger span) whose lemma is a lexicon entry (or whose label is benign-capable, or whose
    word is in `triggers`); rows of a blocked category are skipped and counted. Harmful originals first."""
    _, spans = _trigger_span_column(ds)
    prompts = ds[C.PROMPT][:]
    languages = ds[C.LANGUAGE][:] if C.LANGUAGE in ds.column_names else ["en"] * len(ds)
    categories = ds[C.CATEGORY][:] if C.CATEGORY in ds.column_names else [None] * len(ds)
    labels = _labels(ds)
    wanted = {t.casefold() for t in triggers or []}
    by_language: dict[str, list[int]] = {}
    for i, lang in enumerate(languages):
        by_language.setdefault(F.normalize_language_code(lang), []).append(i)
    pairs = []
    for lang, rows in by_language.items():
        docs = F.parse([prompts[i] or "" for i in rows], lang)
        for i, doc in zip(rows, docs, strict=True):
            blocked = F.blocked_category(categories[i], doc, lang)
            if blocked:
                if report is not None:
                    report.blocked[blocked] = report.blocked.get(blocked, 0) + 1
                continue
            hits = F.cue_hits(doc, lang)
            seen: set[str] = set()
            candidates = list(spans[i] or [])
            for word in wanted:  # words asked for by name, wherever they occur
                for m in _word_pattern(word).finditer(prompts[i] or ""):
                    candidates.append({"start": m.start(), "end": m.end(), "label": BENIGN_HOMONYM})
            for span in candidates:
                start, end = int(span["start"]), int(span["end"])
                word = (prompts[i] or "")[start:end]
                tokens = F.tokens_at(doc, start, end)
                if not word.strip() or not tokens:
                    continue
                lemma = F.span_lemma(doc, start, end)
                if not entry_pos(lemma, lang) and entry_pos(word, lang):  # "phishing" -> lemma "phishe"
                    lemma = word
                in_lexicon = any(m.start < end and m.end > start for m in hits)
                one = tokens[0]
                exact = len(tokens) == 1 and lemma.casefold() in F.lexicon_phrases(lang) and \
                    any(m.start == one.idx and m.end == one.idx + len(one) for m in hits)
                benign_label = span.get("label") in span_labels or word.casefold() in wanted
                if not (in_lexicon or benign_label) or lemma.casefold() in seen:
                    continue
                seen.add(lemma.casefold())
                token = tokens[0] if len(tokens) == 1 else None
                pos = entry_pos(lemma, lang) or _guess_pos(token, lemma, lang)
                pairs.append({"row": i, "trigger": word, "start": start, "end": end, "lemma": lemma, "pos": pos,
                              "language": lang, "harmful": labels[i] == "harmful", "lexicon": in_lexicon,
                              "exact": exact})
    pairs.sort(key=lambda p: (not p["harmful"], p["row"], p["start"]))
    return pairs[:limit] if limit else pairs


# rewrites ---------------------------------------------------------------------------------------------------------
def clean_rewrite(text: str) -> str:
    """The first non-empty line of a model's answer without quotes or a 'Question:' prefix."""
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    line = _PREFIX.sub("", line).strip().strip("\"'“”«» ").strip()
    return line


def model_rewrites(items: list[dict[str, Any]], cfg: DeharmConfig) -> list[str]:
    """One chat-model rewrite per item ({prompt, trigger}), cleaned (filtered later like every rewrite)."""
    from curation.models.lm import generate, load_lm

    if not items:
        return []
    lm = load_lm(cfg.model, cfg.device)
    queries = [REWRITE_INSTRUCTION.format(trigger=it["trigger"]) for it in items]
    outputs = generate(lm, queries, max_new_tokens=cfg.rewrite_max_new_tokens, batch_size=cfg.batch_size)
    return [clean_rewrite(o) for o in outputs]


def harmfulness(texts: list[str], probe_path: str | None) -> list[float | None]:
    """P(harmful) of each text under the harm model at `probe_path` (None values without one)."""
    if not probe_path or not texts:
        return [None] * len(texts)

    from curation.models.embeddings import get_encoder
    from curation.models.probe import Probe, margin_to_proba

    probe = Probe.load(Path(probe_path))
    margins = probe.score_texts(texts, get_encoder(probe.model_id))
    return [float(p) for p in margin_to_proba(margins)]


def deharm_record_id(rewrite: str) -> str:
    """Same id the `sft` / `dpo` builds give a de-harmed row (distinct from the id of the prompt rewritten)."""
    from curation.build.chat import deharm_id

    return deharm_id({"rewrite": rewrite})


def highlight(prompt: str, start: int, end: int) -> str:
    """The source prompt as markdown with the trigger in bold (other markdown characters escaped)."""
    def esc(text: str) -> str:
        return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", text)

    return f"{esc(prompt[:start])}**{esc(prompt[start:end])}**{esc(prompt[end:])}"


def _check(cand: Candidate, doc: Any, pair: dict[str, Any], source: str, cfg: DeharmConfig) -> str | None:
    """The first filter a candidate fails, or None."""
    lang = pair["language"]
    kept = F.span_lemma(doc, cand.start, cand.end).casefold() == pair["lemma"].casefold() or \
        cand.trigger.casefold() == pair["trigger"].casefold()
    if not kept:
        return "lost_trigger"
    if not F.differs(cand.text, source):
        return "same_as_source"
    if not F.is_request(cand.text, lang):
        return "not_a_request"
    if F.is_meta(cand.text, lang):
        return "meta_question"
    if cand.method == "frame" and not F.slot_fits(doc, cand.start, cand.end, pair["pos"] or "", lang):
        return "ungrammatical"
    if cand.method == "model" and not F.reads_grammatical(doc, lang):
        return "ungrammatical"
    if F.other_cues(doc, cand.start, cand.end, lang):
        return "other_harm_cue"
    if word_overlap(cand.text, source) > cfg.max_overlap:
        return "near_copy_of_source"
    return None


def _candidates(pairs: list[dict[str, Any]], prompts: list[str], cfg: DeharmConfig,
                report: DeharmReport) -> list[list[Candidate]]:
    """Sense requests, typed frames and (optionally) one model rewrite per pair, each through the filters."""
    frames = load_frames(cfg.templates)
    kinds = set(cfg.senses or KINDS)
    per_pair: list[list[Candidate]] = []
    for pair in pairs:
        made = [] if not pair["lexicon"] else \
            entry_candidates(pair["lemma"], pair["language"]) + \
            (frame_candidates(pair["lemma"], pair["pos"], pair["language"], frames) if pair["exact"] else [])
        per_pair.append([c for c in made if c.kind in kinds])
    if cfg.model_rewrites and pairs:
        texts = model_rewrites([{"prompt": prompts[p["row"]], "trigger": p["trigger"]} for p in pairs], cfg)
        for pair, text, cands in zip(pairs, texts, per_pair, strict=True):
            m = _word_pattern(pair["trigger"]).search(text)
            start, end = (m.start(), m.end()) if m else (0, 0)
            cands.append(Candidate(text, start, end, "model", "chat-model rewrite", "model"))
    kept: list[list[Candidate]] = []
    for pair, cands in zip(pairs, per_pair, strict=True):
        docs = F.parse([c.text for c in cands], pair["language"]) if cands else []
        ok = []
        for cand, doc in zip(cands, docs, strict=True):
            report.candidates += 1
            reason = "lost_trigger" if cand.method == "model" and cand.end == 0 else \
                _check(cand, doc, pair, prompts[pair["row"]], cfg)
            if reason:
                report.drop(reason)
                if cand.method == "model":
                    report.model_dropped += 1
            else:
                ok.append(cand)
        kept.append(ok)
    return kept


def _select(pairs: list[dict[str, Any]], kept: list[list[Candidate]], cfg: DeharmConfig,
            report: DeharmReport) -> list[list[tuple[Candidate, float | None]]]:
    """Harm model with margin, then MMR per pair across senses; exact and near-copies of kept rewrites dropped."""
    import numpy as np

    from curation.models.embeddings import get_encoder

    texts = sorted({c.text for cands in kept for c in cands})
    scores = dict(zip(texts, harmfulness(texts, cfg.probe_path), strict=True))
    limit = cfg.max_p_harmful - cfg.margin
    encoder = get_encoder() if texts else None
    vectors = dict(zip(texts, encoder.encode(texts), strict=True)) if encoder else {}
    used: set[str] = set()
    chosen_by_lemma: dict[str, list[Any]] = {}
    out: list[list[tuple[Candidate, float | None]]] = []
    for pair, cands in zip(pairs, kept, strict=True):
        benign = []
        for c in cands:
            p = scores[c.text]
            if p is not None and p > limit:
                report.probe_dropped += 1
                report.drop("harmful_score")
            elif normalize_text(c.text) in used:
                report.duplicates += 1
                report.drop("duplicate")
            else:
                benign.append(c)
        if not benign:
            out.append([])
            continue
        relevance = [1.0 + (0.3 if c.trigger.casefold() == pair["trigger"].casefold() else 0.0)
                     + (0.2 if c.method == "sense" else 0.0) - (scores[c.text] or 0.0) for c in benign]
        key = pair["lemma"].casefold()
        prior = np.asarray(chosen_by_lemma.get(key, []), dtype=np.float32)
        idx, near = F.mmr(relevance, np.stack([vectors[c.text] for c in benign]), [c.kind for c in benign],
                          cfg.templates_per_pair, cfg.mmr_lambda, cfg.max_similarity,
                          prior if len(prior) else None)
        if near:
            report.drop("near_copy_of_rewrite", near)
        report.not_selected += len(benign) - len(idx) - near
        picked = []
        for i in idx:
            c = benign[i]
            used.add(normalize_text(c.text))
            chosen_by_lemma.setdefault(key, []).append(vectors[c.text])
            picked.append((c, scores[c.text]))
        out.append(picked)
    return out


def run(ds: Dataset, cfg: DeharmConfig | None = None, report: DeharmReport | None = None) -> Dataset:
    """Benign rewrites of every trigger span (filtered, MMR-selected), with complete, checked answers; `report`
    (when given) gets what was made and dropped."""
    cfg = cfg or DeharmConfig()
    if C.PROMPT not in ds.column_names:
        raise InputError(f"deharm: no '{C.PROMPT}' column (columns: {', '.join(ds.column_names)})",
                         "pass a dataset from the triggers stage or a trigger_spans gold dataset")
    if cfg.senses:
        unknown = sorted(set(cfg.senses) - set(KINDS))
        if unknown:
            raise InputError(f"deharm: unknown sense(s) {', '.join(unknown)}", f"known senses: {', '.join(KINDS)}")
    if not cfg.probe_path and not cfg.allow_unscored:
        raise ConfigError("deharm: no harm model to check that rewrites are benign",
                          "fit one with `curate probe fit`, or pass --allow-unscored to review unscored rewrites")
    load_frames(cfg.templates)  # a bad frame file fails before any model is loaded
    report = report if report is not None else DeharmReport()
    report.triggers = benign_triggers(ds, cfg.span_labels)
    pairs = trigger_pairs(ds, None, cfg.max_pairs, cfg.span_labels, report)
    report.pairs = len(pairs)
    report.triggers = sorted({p["trigger"].casefold(): p["trigger"] for p in pairs}.values(), key=str.casefold)
    column = {name: (ds[name][:] if name in ds.column_names else [None] * len(ds))
              for name in (C.ID, C.CATEGORY, C.SOURCE)}
    prompts = ds[C.PROMPT][:]
    selected = _select(pairs, _candidates(pairs, prompts, cfg, report), cfg, report)
    rows: list[dict[str, Any]] = []
    senses: dict[str, set[str]] = {}
    for pair, picked in zip(pairs, selected, strict=True):
        i = pair["row"]
        for cand, p in picked:
            method = f"model:{cfg.model}" if cand.method == "model" else f"{cand.method}:{cand.kind}"
            if cand.method == "model":
                report.model_rewrites += 1
            else:
                report.template_rewrites += 1
            senses.setdefault(pair["lemma"].casefold(), set()).add(f"{cand.kind}:{cand.gloss}")
            rows.append({"original_id": column[C.ID][i] or record_id(prompts[i]), "original_prompt": prompts[i],
                         "highlighted": highlight(prompts[i], pair["start"], pair["end"]), "rewrite": cand.text,
                         "trigger": cand.trigger, "lemma": pair["lemma"], "method": method, "sense": cand.kind,
                         "sense_gloss": f"{cand.kind.replace('_', ' ')}: {cand.gloss}", C.LANGUAGE: pair["language"],
                         C.CATEGORY: column[C.CATEGORY][i] or "", C.SOURCE: column[C.SOURCE][i] or "dataset",
                         "p_harmful": p, C.ID: deharm_record_id(cand.text)})
    report.senses_per_trigger = {k: len(v) for k, v in sorted(senses.items())}
    rows = _answer(rows, cfg, report)
    report.rows = len(rows)
    out = Dataset.from_list(rows, features=OUTPUT_FEATURES) if rows else \
        Dataset.from_dict({k: [] for k in OUTPUT_FEATURES}, features=OUTPUT_FEATURES)
    return out


def _answer(rows: list[dict[str, Any]], cfg: DeharmConfig, report: DeharmReport) -> list[dict[str, Any]]:
    """Answer each rewrite; keep only complete, compliant, harmless answers that are not a copy (drops counted)."""
    maker = cfg.answer_model or cfg.model
    if not cfg.answer:
        return [{**r, "answer": "", C.GENERATED_BY: None, "finish_reason": None, "answer_p_harmful": None,
                 "answer_issue": None} for r in rows]
    answers = generate_answers(maker, [r["rewrite"] for r in rows], cfg.answer_max_new_tokens, cfg.batch_size,
                               cfg.device, cfg.answer_system)
    p_answer = harmfulness([a.text for a in answers], cfg.probe_path)
    reasons = check_answers([r["rewrite"] for r in rows], answers, p_answer, cfg.max_p_harmful, cfg.judge)
    kept = []
    for row, answer, p, reason in zip(rows, answers, p_answer, reasons, strict=True):
        if reason:
            report.answers_dropped[reason] = report.answers_dropped.get(reason, 0) + 1
            report.unanswered += 1
            if not cfg.keep_failed_answers:
                continue
        kept.append({**row, "answer": answer.text, C.GENERATED_BY: maker, "finish_reason": answer.finish_reason,
                     "answer_p_harmful": p, "answer_issue": reason})
    return kept


def push(ds: Dataset, client: Any, dataset_name: str = DEHARM_SCHEMA, workspace_name: str = "argilla",
         encoder: Any = None, vector_cache: Any = None, show_progress: bool = True) -> Any:
    """Upsert the rewrites (with answers) into the `deharm_review` Argilla dataset; returns the rg.Dataset."""
    from curation.annotate.push import push_records

    missing = {"original_prompt", "highlighted", "sense_gloss", "rewrite", "answer"} - set(ds.column_names)
    if missing:
        raise InputError(f"deharm push: missing column(s) {', '.join(sorted(missing))}",
                         "push the output of `curate deharm` (it has original_prompt, rewrite, answer)")
    issue = ds["answer_issue"] if "answer_issue" in ds.column_names else [None] * len(ds)
    empty = [r for r, why in zip(ds, issue, strict=True) if not (r["answer"] or "").strip() and not why]
    if empty:
        raise InputError(f"deharm push: {len(empty)} rewrite(s) have no answer",
                         "run `curate deharm` with answers on (the default) before --push")
    return push_records(ds, DEHARM_SCHEMA, dataset_name, client, workspace_name, encoder=encoder,
                        vector_cache=vector_cache, show_progress=show_progress)
