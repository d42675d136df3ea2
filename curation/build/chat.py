"""`sft` and `dpo` configs: chat data that answers de-harmed trigger queries and refuses truly harmful prompts
(the refusal-triggers mitigation), SFT mixed into an existing safety set at a configurable ratio."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from datasets import Dataset, Features, Value
from pydantic import Field

from curation.build.config import SourceConfig
from curation.build.context import BuildContext, Builder, column, require_gold, rows_dataset
from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.hashing import record_id, sha
from curation.core.progress import datasets_progress
from curation.core.registry import builders

REFUSALS = [
    "I can't help with that. If you're working on something related and safe, I'm happy to help with that instead.",
    "Sorry, but I can't assist with this request.",
    "I won't help with this because it could cause real harm. Is there something else I can do for you?",
]
REFUSAL_JUDGE_LABELS = ("full_refusal", "partial_refusal")
MESSAGE = {"role": Value("string"), "content": Value("string")}
TRUNCATED = "truncated"  # row flag: an answer in it was cut at max_new_tokens (kept only with keep_truncated)
SFT_FEATURES = Features({C.ID: Value("string"), C.MESSAGES: [MESSAGE], "kind": Value("string"),
                         C.LABEL: Value("string"), C.LANGUAGE: Value("string"), C.SOURCE: Value("string"),
                         TRUNCATED: Value("bool")})
DPO_FEATURES = Features({C.ID: Value("string"), C.PROMPT: Value("string"), "chosen": Value("string"),
                         "rejected": Value("string"), "kind": Value("string"), C.LABEL: Value("string"),
                         C.LANGUAGE: Value("string"), C.SOURCE: Value("string"), TRUNCATED: Value("bool")})


class ChatBuild(SourceConfig):
    """Options shared by `sft` and `dpo`."""

    deharm_from: list[str] = Field(default_factory=list, description="deharm_review gold: rewrites + answers.")
    refusal_templates: list[str] = Field(default_factory=lambda: list(REFUSALS), min_length=1)
    helpful_judge_label: str = Field("full_compliance", description="judge_label of responses usable as answers.")
    keep_truncated: bool = Field(False, description="Keep answers cut at max_new_tokens (flagged `truncated`) "
                                                    "instead of leaving them out.")


class SftBuild(ChatBuild):
    """Options of the `sft` config."""

    mix_with: str | None = Field(None, description="Existing safety SFT set: workspace dataset or file path.")
    ratio: float = Field(0.5, gt=0, le=1, description="Share of curated rows in the final mix (1 = no mixing).")


def refusal(rid: str, templates: list[str]) -> str:
    """A refusal template picked by the record id (stable across runs)."""
    return templates[int(sha(rid, 8), 16) % len(templates)]


def _triggers_gold(cfg: ChatBuild, ctx: BuildContext, config: str) -> list[dict[str, Any]]:
    rows = []
    for name in cfg.from_:
        gold = require_gold(ctx.load(name), name, ["harmfulness"], config, cfg.skip_unresolved)
        rows += [{**row, C.SOURCE: column(row, C.SOURCE, name)} for row in gold]
    return rows


def _deharm_gold(cfg: ChatBuild, ctx: BuildContext, config: str) -> list[dict[str, Any]]:
    """Accepted de-harm reviews: rewrite judged benign and answer judged helpful."""
    rows = []
    for name in cfg.deharm_from:
        gold = require_gold(ctx.load(name), name, ["rewrite_benign", "answer_helpful"], config, cfg.skip_unresolved)
        missing = {"rewrite", "answer"} - set(gold.column_names)
        if missing:
            raise InputError(f"config '{config}': '{name}' lacks field(s) {', '.join(sorted(missing))}",
                             "deharm_from takes gold of the deharm_review schema (original_prompt, rewrite, answer)")
        rows += [{**row, C.SOURCE: column(row, C.SOURCE, name), **_edited(row)} for row in gold
                 if row[C.GOLD_PREFIX + "rewrite_benign"] == "yes" and row[C.GOLD_PREFIX + "answer_helpful"] == "yes"
                 and not (row.get("answer_issue") and "answer" not in _edited(row))]  # failed answer, not rewritten
    return rows


def _edited(row: dict[str, Any]) -> dict[str, str]:
    """The reviewers' edited rewrite / answer (deharm_review text questions) where they gave one."""
    return {key: str(row[C.GOLD_PREFIX + f"{key}_edited"]).strip() for key in ("rewrite", "answer")
            if str(row.get(C.GOLD_PREFIX + f"{key}_edited") or "").strip()}


def deharm_id(row: dict[str, Any]) -> str:
    """Id of a de-harmed row: distinct from the id of the trigger prompt it rewrites."""
    return record_id(f"deharm\x00{row['rewrite']}")


def _chat(prompt: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]


def _helpful(row: dict[str, Any], cfg: ChatBuild) -> str | None:
    response = column(row, C.RESPONSE)
    return response if response.strip() and column(row, C.JUDGE_LABEL) == cfg.helpful_judge_label else None


def _usable(text: str, row: dict[str, Any], cfg: ChatBuild, ctx: BuildContext, config: str, what: str,
            reason_column: str = C.FINISH_REASON) -> tuple[bool, bool]:
    """(use it, it is truncated): a truncated text is left out (counted under `truncated <what>`) unless
    keep_truncated."""
    cut = ctx.truncated(row, text, reason_column)
    if cut and not cfg.keep_truncated:
        ctx.exclude(config, f"truncated {what}")
        return False, True
    return True, cut


def curated_sft_rows(cfg: SftBuild, ctx: BuildContext) -> list[dict[str, Any]]:
    """Refusals for harmful gold prompts, helpful answers for benign ones judged compliant, de-harmed rewrites."""
    rows = []
    for row in _triggers_gold(cfg, ctx, "sft"):
        label, base = row[C.GOLD_PREFIX + "harmfulness"], {C.LANGUAGE: column(row, C.LANGUAGE, "en"),
                                                            C.SOURCE: row[C.SOURCE]}
        if label == "harmful":
            rows.append({C.ID: row[C.ID], C.MESSAGES: _chat(row[C.PROMPT], refusal(row[C.ID], cfg.refusal_templates)),
                         "kind": "refusal", C.LABEL: "harmful", **base, TRUNCATED: False})
        elif label == "benign" and (answer := _helpful(row, cfg)):
            use, cut = _usable(answer, row, cfg, ctx, "sft", "response")
            if use:
                rows.append({C.ID: row[C.ID], C.MESSAGES: _chat(row[C.PROMPT], answer), "kind": "helpful",
                             C.LABEL: "benign", **base, TRUNCATED: cut})
    for row in _deharm_gold(cfg, ctx, "sft"):
        use, cut = _usable(row["answer"], row, cfg, ctx, "sft", "de-harm answer", "answer_finish_reason")
        if use:
            rows.append({C.ID: deharm_id(row), C.MESSAGES: _chat(row["rewrite"], row["answer"]), "kind": "deharmed",
                         C.LABEL: "benign", C.LANGUAGE: column(row, C.LANGUAGE, "en"), C.SOURCE: row[C.SOURCE],
                         TRUNCATED: cut})
    return rows


def load_mix(source: str, ctx: BuildContext) -> Dataset:
    """The existing SFT set as `messages`: a workspace dataset or a json/jsonl/parquet/csv file."""
    import datasets

    if "/" not in source and not source.startswith(".") and ctx.workspace.has_dataset(source):
        ds = ctx.load(source)
    else:
        path = Path(source)
        kinds = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv"}
        if not path.is_file() or path.suffix not in kinds:
            raise InputError(f"config 'sft': mix_with '{source}' is neither a workspace dataset nor a "
                             "json/jsonl/parquet/csv file", "fix configs.sft.mix_with")
        with datasets_progress(False):
            ds = datasets.load_dataset(kinds[path.suffix], data_files=str(path), split="train")
        ctx.sources[source] = {"rows": len(ds), "fingerprint": sha(path.read_bytes().hex(), 32)}
    if C.MESSAGES in ds.column_names:
        return ds
    if {C.PROMPT, C.RESPONSE} <= set(ds.column_names):
        return ds.map(lambda r: {C.MESSAGES: _chat(r[C.PROMPT], r[C.RESPONSE])})
    raise InputError(f"config 'sft': mix_with '{source}' has neither a 'messages' column nor prompt/response",
                     f"columns found: {', '.join(ds.column_names)}")


def build_sft(cfg: SftBuild, ctx: BuildContext) -> Dataset:
    """Chat `messages` rows: curated rows plus a seeded sample of the existing set so curated rows are `ratio`."""
    rows = curated_sft_rows(cfg, ctx)
    if cfg.mix_with and cfg.ratio < 1:
        mix = load_mix(cfg.mix_with, ctx)
        wanted = min(len(mix), round(len(rows) * (1 - cfg.ratio) / cfg.ratio))
        picked = sorted(random.Random(ctx.seed).sample(range(len(mix)), wanted))
        for i in picked:
            r = mix[i]
            messages = [{"role": m["role"], "content": m["content"]} for m in r[C.MESSAGES]]
            first_user = next((m["content"] for m in messages if m["role"] == "user"), "")
            rows.append({C.ID: record_id(f"mix\x00{first_user}\x00{messages[-1]['content']}"), C.MESSAGES: messages,
                         "kind": "mix", C.LABEL: str(r.get(C.LABEL) or "unknown"),
                         C.LANGUAGE: str(r.get(C.LANGUAGE) or "en"), C.SOURCE: cfg.mix_with, TRUNCATED: False})
    return rows_dataset(rows, SFT_FEATURES)


def build_dpo(cfg: ChatBuild, ctx: BuildContext) -> Dataset:
    """prompt / chosen / rejected: helpful over refusal for benign trigger prompts, refusal over compliance for
    harmful ones (only where a compliant response exists), and de-harmed rewrites with their accepted answers."""
    deharm = []
    for row in _deharm_gold(cfg, ctx, "dpo"):
        use, cut = _usable(row["answer"], row, cfg, ctx, "dpo", "de-harm answer", "answer_finish_reason")
        if use:
            deharm.append({**row, TRUNCATED: cut})
    answer_for = {record_id(r["original_prompt"]): r for r in deharm if r.get("original_prompt")}
    rows = []
    for row in _triggers_gold(cfg, ctx, "dpo"):
        rid, label = row[C.ID], row[C.GOLD_PREFIX + "harmfulness"]
        base = {C.ID: rid, C.PROMPT: row[C.PROMPT], C.LABEL: label, C.LANGUAGE: column(row, C.LANGUAGE, "en"),
                C.SOURCE: row[C.SOURCE]}
        response, judged = column(row, C.RESPONSE), column(row, C.JUDGE_LABEL)
        if label == "benign":
            chosen, cut = _helpful(row, cfg), False
            if chosen:
                use, cut = _usable(chosen, row, cfg, ctx, "dpo", "response")
                chosen = chosen if use else None
            if not chosen and rid in answer_for:
                chosen, cut = answer_for[rid]["answer"], answer_for[rid][TRUNCATED]
            rejected = response if judged in REFUSAL_JUDGE_LABELS and response.strip() else \
                refusal(rid, cfg.refusal_templates)
            if rejected == response and ctx.truncated(row, response):  # a cut refusal: the template instead
                ctx.exclude("dpo", "truncated refusal replaced by a template")
                rejected = refusal(rid, cfg.refusal_templates)
            if chosen:
                rows.append({**base, "chosen": chosen, "rejected": rejected, "kind": "helpful_over_refusal",
                             TRUNCATED: cut})
        elif label == "harmful" and judged == cfg.helpful_judge_label and response.strip():
            use, cut = _usable(response, row, cfg, ctx, "dpo", "response")
            if use:
                rows.append({**base, "chosen": refusal(rid, cfg.refusal_templates), "rejected": response,
                             "kind": "refusal_over_compliance", TRUNCATED: cut})
    for row in deharm:
        rows.append({C.ID: deharm_id(row), C.PROMPT: row["rewrite"], "chosen": row["answer"],
                     "rejected": refusal(row[C.ID], cfg.refusal_templates), "kind": "deharmed_helpful",
                     C.LABEL: "benign", C.LANGUAGE: column(row, C.LANGUAGE, "en"), C.SOURCE: row[C.SOURCE],
                     TRUNCATED: row[TRUNCATED]})
    return rows_dataset(rows, DPO_FEATURES)


builders.register("sft.v1", func=Builder(SftBuild, build_sft, C.LABEL))
CONVERSATIONAL_DPO_FEATURES = Features({**DPO_FEATURES, C.PROMPT: [MESSAGE], "chosen": [MESSAGE],
                                        "rejected": [MESSAGE]})


def conversational_dpo(cfg: ChatBuild, splits: Any, ctx: BuildContext) -> dict[str, Any]:
    """`dpo_conversational`: the dpo rows with prompt / chosen / rejected as message lists (TRL's conversational
    preference format), same ids and splits."""
    from datasets import DatasetDict

    def convert(batch: dict[str, list]) -> dict[str, list]:
        return {C.PROMPT: [[{"role": "user", "content": p}] for p in batch[C.PROMPT]],
                "chosen": [[{"role": "assistant", "content": c}] for c in batch["chosen"]],
                "rejected": [[{"role": "assistant", "content": r}] for r in batch["rejected"]]}

    with datasets_progress(False):
        return {"dpo_conversational": DatasetDict({split: ds.map(convert, batched=True,
                                                                 features=CONVERSATIONAL_DPO_FEATURES)
                                                   for split, ds in splits.items()})}


builders.register("dpo.v1", func=Builder(ChatBuild, build_dpo, C.LABEL, conversational_dpo))
