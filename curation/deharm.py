"""De-harm stage: benign questions that keep a benign-capable trigger word (template and chat-model rewrites),
answered by a local model, for review in Argilla (`deharm_review`) and then the `sft` / `dpo` builds.

Reads `prompt` plus `gold_trigger_spans` (adjudicated) or `trigger_spans` (pipeline); a trigger word is
benign-capable when some span of it is labelled `benign_homonym`. Output columns: id, original_id,
original_prompt, rewrite, answer, trigger, method, sense, language, category, source, generated_by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from datasets import Dataset, Features, Value
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import columns as C
from .errors import ConfigError, InputError
from .hashing import normalize_text, record_id

DEFAULT_TEMPLATES = "data/deharm_templates.yaml"
DEHARM_SCHEMA = "deharm_review"
BENIGN_HOMONYM = "benign_homonym"
REWRITE_INSTRUCTION = ("Rewrite this into a harmless question that still uses the word '{trigger}'. Keep the word "
                       "'{trigger}' exactly as written. Reply with the question only.\n\nPrompt: {prompt}")
OUTPUT_FEATURES = Features({**{name: Value("string") for name in (
    C.ID, "original_id", "original_prompt", "rewrite", "answer", "trigger", "method", "sense", C.LANGUAGE,
    C.CATEGORY, C.SOURCE, C.GENERATED_BY)}, "p_harmful": Value("float64")})
_PREFIX = re.compile(r"^\s*(?:rewritten\s+)?(?:question|rewrite|prompt)\s*:\s*", re.IGNORECASE)


class DeharmConfig(BaseModel):
    """Options of `curate deharm`."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    templates: str | None = Field(None, description="Template YAML (default: curation/data/deharm_templates.yaml).")
    senses: list[str] | None = Field(None, description="Template senses to use (default: every sense).")
    templates_per_pair: int = Field(2, ge=0, description="Template rewrites per (prompt, trigger) pair.")
    model: str = Field("smollm2", description="Local chat model for rewrites and answers.")
    model_rewrites: bool = Field(True, description="Also ask the chat model for one rewrite per pair.")
    answer: bool = Field(True, description="Answer every rewrite with the model.")
    span_labels: list[str] = Field(default_factory=lambda: [BENIGN_HOMONYM],
                                   description="Span labels that make a trigger benign-capable.")
    max_pairs: int | None = Field(None, ge=1, description="Use at most this many (prompt, trigger) pairs.")
    probe_path: str | None = Field(None, description="Harmfulness probe folder: model rewrites it rates harmful "
                                                     "(P >= max_p_harmful) are dropped; every row gets p_harmful.")
    max_p_harmful: float = Field(0.5, gt=0, le=1)
    max_overlap: float = Field(0.7, gt=0, le=1, description="Model rewrites sharing more of their words with the "
                                                             "original (Jaccard) are copies and are dropped.")
    rewrite_max_new_tokens: int = Field(40, ge=1)
    answer_max_new_tokens: int = Field(96, ge=1)
    batch_size: int = Field(8, ge=1)
    device: str = "cpu"


@dataclass
class DeharmReport:
    """What the stage did: triggers found, pairs rewritten, rewrites kept and dropped per method."""

    triggers: list[str] = field(default_factory=list)
    pairs: int = 0
    template_rewrites: int = 0
    model_rewrites: int = 0
    model_dropped: int = 0
    probe_dropped: int = 0
    duplicates: int = 0
    unanswered: int = 0
    rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# templates --------------------------------------------------------------------------------------------------------
class TemplateFile(BaseModel):
    """deharm_templates.yaml: sense -> language -> templates, each holding `{trigger}` once or more."""

    model_config = ConfigDict(extra="forbid")

    version: str = "deharm_templates.v1"
    senses: dict[str, dict[str, list[str]]]


def load_templates(path: str | Path | None = None) -> TemplateFile:
    """Read and validate the template file; a template without `{trigger}` is a ConfigError naming it."""
    where = str(path) if path else DEFAULT_TEMPLATES
    try:
        text = Path(path).read_text(encoding="utf-8") if path else \
            resources.files("curation").joinpath(DEFAULT_TEMPLATES).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"deharm templates {where}: {err.strerror}", "pass an existing YAML file") from None
    try:
        parsed = TemplateFile.model_validate(yaml.safe_load(text) or {})
    except (yaml.YAMLError, ValidationError) as err:
        raise ConfigError(f"deharm templates {where} are invalid: {str(err).splitlines()[0][:160]}",
                          "follow the layout of curation/data/deharm_templates.yaml") from None
    for sense, by_language in parsed.senses.items():
        for language, templates in by_language.items():
            for template in templates:
                if "{trigger}" not in template:
                    raise ConfigError(f"deharm templates {where}: {sense}/{language} template {template!r} has no "
                                      "{trigger} placeholder", "every template must keep the trigger word")
    return parsed


# input: benign-capable triggers and the prompts holding them --------------------------------------------------------
def _word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(word) + r"(?!\w)", re.IGNORECASE)


def has_trigger(text: str, trigger: str) -> bool:
    """Whether `trigger` occurs in `text` as a whole word (case-insensitive)."""
    return bool(trigger) and _word_pattern(trigger).search(text or "") is not None


def _spans_of(ds: Dataset) -> tuple[str, list[Any]]:
    gold = C.GOLD_PREFIX + C.TRIGGER_SPANS
    for column in (gold, C.TRIGGER_SPANS):
        if column in ds.column_names:
            return column, ds[column]
    raise InputError(f"deharm: the dataset has neither '{gold}' nor '{C.TRIGGER_SPANS}' (columns: "
                     f"{', '.join(ds.column_names)})", "run the triggers stage, or pass the gold of a trigger_spans "
                     "annotation (`curate adjudicate run NAME`)")


def benign_triggers(ds: Dataset, labels: list[str] | tuple[str, ...] = (BENIGN_HOMONYM,)) -> list[str]:
    """Trigger words (as written, first occurrence wins, casefold-unique) of spans carrying one of `labels`."""
    _, spans = _spans_of(ds)
    found: dict[str, str] = {}
    for prompt, row_spans in zip(ds[C.PROMPT], spans, strict=True):
        for span in row_spans or []:
            if span.get("label") in labels:
                word = (span.get("text") or prompt[int(span["start"]):int(span["end"])]).strip()
                if word:
                    found.setdefault(word.casefold(), word)
    return sorted(found.values(), key=str.casefold)


def trigger_pairs(ds: Dataset, triggers: list[str], limit: int | None = None) -> list[dict[str, Any]]:
    """One pair per (row, trigger word it contains); harmful originals first (they teach the most)."""
    pairs = []
    labels = ds[C.LABEL] if C.LABEL in ds.column_names else [None] * len(ds)
    if C.GOLD_PREFIX + "harmfulness" in ds.column_names:
        labels = ds[C.GOLD_PREFIX + "harmfulness"]
    for i, prompt in enumerate(ds[C.PROMPT]):
        for trigger in triggers:
            match = _word_pattern(trigger).search(prompt or "")
            if match:
                pairs.append({"row": i, "trigger": match.group(0), "harmful": labels[i] == "harmful"})
    pairs.sort(key=lambda p: (not p["harmful"], p["row"]))
    return pairs[:limit] if limit else pairs


# rewrites ---------------------------------------------------------------------------------------------------------
def template_rewrites(trigger: str, language: str | None, templates: TemplateFile, senses: list[str] | None,
                      limit: int) -> list[tuple[str, str]]:
    """(sense, rewrite) pairs from the templates of `language` (else English), `limit` of them, trigger kept."""
    out = []
    for sense, by_language in templates.senses.items():
        if senses and sense not in senses:
            continue
        chosen = by_language.get((language or "en").split("-")[0]) or by_language.get("en") or []
        for template in chosen[:1]:
            rewrite = template.replace("{trigger}", trigger)
            assert trigger in rewrite, "template rewrites keep the trigger verbatim"
            out.append((sense, rewrite))
        if len(out) >= limit:
            break
    return out[:limit]


def clean_rewrite(text: str) -> str:
    """The first non-empty line of a model's answer without quotes or a 'Question:' prefix."""
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    line = _PREFIX.sub("", line).strip().strip("\"'“”«» ").strip()
    return line


def word_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the two texts' lower-cased word sets."""
    wa, wb = set(re.findall(r"\w+", a.casefold())), set(re.findall(r"\w+", b.casefold()))
    return len(wa & wb) / len(wa | wb) if wa | wb else 1.0


def model_rewrites(items: list[dict[str, Any]], cfg: DeharmConfig) -> list[str | None]:
    """A chat-model rewrite per item ({prompt, trigger}); None when the model dropped the trigger or copied."""
    from .lm import generate, load_lm

    if not items:
        return []
    lm = load_lm(cfg.model, cfg.device)
    queries = [REWRITE_INSTRUCTION.format(trigger=it["trigger"], prompt=it["prompt"]) for it in items]
    outputs = generate(lm, queries, max_new_tokens=cfg.rewrite_max_new_tokens, batch_size=cfg.batch_size)
    kept: list[str | None] = []
    for item, output in zip(items, outputs, strict=True):
        rewrite = clean_rewrite(output)
        ok = has_trigger(rewrite, item["trigger"]) and word_overlap(rewrite, item["prompt"]) <= cfg.max_overlap
        kept.append(rewrite if ok else None)
    return kept


def answer_rewrites(rewrites: list[str], cfg: DeharmConfig) -> tuple[list[str], str]:
    """Answers of the local model to each rewrite (batched, via the generate stage)."""
    from .generate import GenerateConfig
    from .generate import run as generate_run

    if not rewrites:
        return [], cfg.model
    gen_cfg = GenerateConfig(model=cfg.model, max_new_tokens=cfg.answer_max_new_tokens, batch_size=cfg.batch_size,
                             device=cfg.device)
    answered = generate_run(Dataset.from_dict({C.PROMPT: rewrites}), gen_cfg)
    return [a or "" for a in answered[C.RESPONSE]], cfg.model


def harmfulness(texts: list[str], probe_path: str | None) -> list[float | None]:
    """P(harmful) of each text under the probe at `probe_path` (None values without a probe)."""
    if not probe_path or not texts:
        return [None] * len(texts)
    import numpy as np

    from .embeddings import get_encoder
    from .probe import Probe

    probe = Probe.load(Path(probe_path))
    margins = probe.score_texts(texts, get_encoder(probe.model_id))
    return [float(p) for p in 1.0 / (1.0 + np.exp(-np.asarray(margins)))]


def deharm_record_id(rewrite: str) -> str:
    """Same id the `sft` / `dpo` builds give a de-harmed row (distinct from the id of the prompt rewritten)."""
    from .build.chat import deharm_id

    return deharm_id({"rewrite": rewrite})


def run(ds: Dataset, cfg: DeharmConfig | None = None) -> tuple[Dataset, DeharmReport]:
    """Rewrites of every prompt holding a benign-capable trigger, with answers; one row per distinct rewrite."""
    cfg = cfg or DeharmConfig()
    if C.PROMPT not in ds.column_names:
        raise InputError(f"deharm: no '{C.PROMPT}' column (columns: {', '.join(ds.column_names)})",
                         "pass a dataset from the triggers stage or a trigger_spans gold dataset")
    templates = load_templates(cfg.templates)
    if cfg.senses:
        unknown = sorted(set(cfg.senses) - set(templates.senses))
        if unknown:
            raise InputError(f"deharm: unknown sense(s) {', '.join(unknown)}",
                             f"known senses: {', '.join(templates.senses)}")
    report = DeharmReport(triggers=benign_triggers(ds, cfg.span_labels))
    pairs = trigger_pairs(ds, report.triggers, cfg.max_pairs)
    report.pairs = len(pairs)
    column = {name: (ds[name][:] if name in ds.column_names else [None] * len(ds))
              for name in (C.ID, C.LANGUAGE, C.CATEGORY, C.SOURCE)}
    prompts = ds[C.PROMPT][:]
    rows: list[dict[str, Any]] = []
    for pair in pairs:
        i = pair["row"]
        base = {"original_id": column[C.ID][i] or record_id(prompts[i]), "original_prompt": prompts[i],
                "trigger": pair["trigger"], C.CATEGORY: column[C.CATEGORY][i] or "",
                C.SOURCE: column[C.SOURCE][i] or "dataset"}
        language = column[C.LANGUAGE][i] or "en"
        for sense, rewrite in template_rewrites(pair["trigger"], language, templates, cfg.senses,
                                                cfg.templates_per_pair):
            lang = language if (language or "en").split("-")[0] in templates.senses[sense] else "en"
            rows.append({**base, "rewrite": rewrite, "method": f"template:{sense}", "sense": sense, C.LANGUAGE: lang})
            report.template_rewrites += 1
    if cfg.model_rewrites and pairs:
        items = [{"prompt": prompts[p["row"]], "trigger": p["trigger"]} for p in pairs]
        for pair, rewrite in zip(pairs, model_rewrites(items, cfg), strict=True):
            if rewrite is None:
                report.model_dropped += 1
                continue
            i = pair["row"]
            rows.append({"original_id": column[C.ID][i] or record_id(prompts[i]), "original_prompt": prompts[i],
                         "trigger": pair["trigger"], "rewrite": rewrite, "method": f"model:{cfg.model}",
                         "sense": "model", C.LANGUAGE: column[C.LANGUAGE][i] or "en",
                         C.CATEGORY: column[C.CATEGORY][i] or "", C.SOURCE: column[C.SOURCE][i] or "dataset"})
            report.model_rewrites += 1
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:
        unique.setdefault(normalize_text(row["rewrite"]), row)
    report.duplicates = len(rows) - len(unique)
    rows = list(unique.values())
    for row, p in zip(rows, harmfulness([r["rewrite"] for r in rows], cfg.probe_path), strict=True):
        row["p_harmful"] = p
    if cfg.probe_path:  # a model rewrite the probe still reads as harmful is not a de-harmed query
        kept = [r for r in rows if not (r["method"].startswith("model:") and r["p_harmful"] >= cfg.max_p_harmful)]
        report.probe_dropped, rows = len(rows) - len(kept), kept
    answers, maker = answer_rewrites([r["rewrite"] for r in rows], cfg) if cfg.answer else ([""] * len(rows), "")
    for row, answer in zip(rows, answers, strict=True):
        row.update({C.ID: deharm_record_id(row["rewrite"]), "answer": answer, C.GENERATED_BY: maker or None})
    if cfg.answer:  # an empty answer cannot be reviewed: drop the rewrite, count it
        answered = [r for r in rows if r["answer"].strip()]
        report.unanswered, rows = len(rows) - len(answered), answered
    report.rows = len(rows)
    out = Dataset.from_list(rows, features=OUTPUT_FEATURES) if rows else \
        Dataset.from_dict({k: [] for k in OUTPUT_FEATURES}, features=OUTPUT_FEATURES)
    return out, report


def push(ds: Dataset, client: Any, dataset_name: str = DEHARM_SCHEMA, workspace_name: str = "argilla",
         encoder: Any = None, vector_cache: Any = None, show_progress: bool = True) -> Any:
    """Upsert the rewrites (with answers) into the `deharm_review` Argilla dataset; returns the rg.Dataset."""
    from .annotate.push import push_records

    missing = {"original_prompt", "rewrite", "answer"} - set(ds.column_names)
    if missing:
        raise InputError(f"deharm push: missing column(s) {', '.join(sorted(missing))}",
                         "push the output of `curate deharm` (it has original_prompt, rewrite, answer)")
    empty = [r for r in ds if not (r["answer"] or "").strip()]
    if empty:
        raise InputError(f"deharm push: {len(empty)} rewrite(s) have no answer",
                         "run `curate deharm` with answers on (the default) before --push")
    return push_records(ds, DEHARM_SCHEMA, dataset_name, client, workspace_name, encoder=encoder,
                        vector_cache=vector_cache, show_progress=show_progress)
