"""`boundary` and `morbench` configs: prompts near the refusal boundary with the gold should-refuse decision."""

from __future__ import annotations

from typing import Literal

from datasets import Dataset, DatasetDict, Features, Value
from pydantic import Field

from curation.build.config import SourceConfig
from curation.build.context import BuildContext, Builder, column, require_gold, rows_dataset
from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.progress import datasets_progress
from curation.core.registry import builders

REFUSE_VALUES = {"refuse": True, "yes": True, "answer": False, "no": False}
QUESTIONS = ("decision", "should_refuse")


class BoundaryBuild(SourceConfig):
    """Options of the `boundary` config."""

    label_question: Literal["auto", "decision", "should_refuse"] = Field(
        "auto", description="Gold question giving should_refuse: decision (answer/refuse) or should_refuse (yes/no).")


class MorbenchBuild(BoundaryBuild):
    """Options of the `morbench` config."""

    languages: list[str] | None = Field(None, description="Keep only these languages (default: all).")
    per_language_configs: bool = Field(True, description="Also one config per language: morbench_fr, ...")


def _question(cfg: BoundaryBuild, gold: Dataset, name: str) -> str:
    if cfg.label_question != "auto":
        return cfg.label_question
    for question in QUESTIONS:
        if C.GOLD_PREFIX + question in gold.column_names:
            return question
    raise InputError(f"gold missing for required field 'decision' (or 'should_refuse') in '{name}'",
                     "annotate it with the boundary_review or trigger_spans schema, then `curate adjudicate run`")


def _gold_rows(cfg: BoundaryBuild, ctx: BuildContext, config: str) -> list[dict]:
    rows = []
    for name in cfg.from_:
        gold = ctx.load(name)
        question = _question(cfg, gold, name)
        gold = require_gold(gold, name, [question], config, cfg.skip_unresolved)
        for row in gold:
            value = str(row[C.GOLD_PREFIX + question]).lower()
            if value not in REFUSE_VALUES:
                raise InputError(f"config '{config}': gold {question} '{value}' of record {row[C.ID]} is not one of "
                                 f"{', '.join(REFUSE_VALUES)}", "fix the annotation schema or the gold dataset")
            rows.append({C.ID: row[C.ID], C.PROMPT: row[C.PROMPT], C.LANGUAGE: column(row, C.LANGUAGE, "en"),
                         C.CATEGORY: column(row, C.CATEGORY), C.SHOULD_REFUSE: REFUSE_VALUES[value],
                         C.BOUNDARY_SCORE: column(row, C.BOUNDARY_SCORE, None),
                         C.P_REFUSE: column(row, C.P_REFUSE, None),
                         C.SOURCE: column(row, C.SOURCE, name)})
    return rows


BOUNDARY_FEATURES = Features({
    C.ID: Value("string"), C.PROMPT: Value("string"), C.LANGUAGE: Value("string"), C.CATEGORY: Value("string"),
    C.SHOULD_REFUSE: Value("bool"), C.BOUNDARY_SCORE: Value("float64"), C.P_REFUSE: Value("float64"),
    C.SOURCE: Value("string"),
})
MORBENCH_FEATURES = Features({
    C.ID: Value("string"), C.PROMPT: Value("string"), C.LANGUAGE: Value("string"), C.CATEGORY: Value("string"),
    C.LABEL: Value("string"), C.BOUNDARY_SCORE: Value("float64"), C.SOURCE: Value("string"),
})


def build_boundary(cfg: BoundaryBuild, ctx: BuildContext) -> Dataset:
    """prompt, language, category, gold should_refuse, boundary_score, p_refuse, source."""
    return rows_dataset(_gold_rows(cfg, ctx, "boundary"), BOUNDARY_FEATURES)


def build_morbench(cfg: MorbenchBuild, ctx: BuildContext) -> Dataset:
    """Multilingual over-refusal evaluation rows: label should_answer / should_refuse."""
    rows = [{C.ID: r[C.ID], C.PROMPT: r[C.PROMPT], C.LANGUAGE: r[C.LANGUAGE], C.CATEGORY: r[C.CATEGORY],
             C.LABEL: "should_refuse" if r[C.SHOULD_REFUSE] else "should_answer",
             C.BOUNDARY_SCORE: r[C.BOUNDARY_SCORE], C.SOURCE: r[C.SOURCE]}
            for r in _gold_rows(cfg, ctx, "morbench") if not cfg.languages or r[C.LANGUAGE] in cfg.languages]
    return rows_dataset(rows, MORBENCH_FEATURES)


def morbench_language_configs(cfg: MorbenchBuild, splits: DatasetDict, ctx: BuildContext) -> dict[str, DatasetDict]:
    """`morbench_<lang>`: the morbench splits (stratified by language) restricted to one language each; also
    records per-language annotator agreement of the gold sources in the build lineage."""
    from curation.build.languages import record_language_agreement

    record_language_agreement(cfg.from_, ctx)
    if not cfg.per_language_configs:
        return {}
    from curation.core.config import default_settings

    asked = set(cfg.languages or default_settings().languages)  # only languages that were asked for get a config
    languages = sorted({lang for ds in splits.values() for lang in ds[C.LANGUAGE]} & asked)
    with datasets_progress(False):
        return {f"morbench_{lang}": DatasetDict({split: ds.filter(lambda b, lg=lang: [x == lg for x in b[C.LANGUAGE]],
                                                                  batched=True)
                                                 for split, ds in splits.items()})
                for lang in languages if lang and lang.isalpha()}


builders.register("boundary.v1", func=Builder(BoundaryBuild, build_boundary, C.SHOULD_REFUSE))
builders.register("morbench.v1", func=Builder(MorbenchBuild, build_morbench, C.LABEL, morbench_language_configs,
                                           (C.LANGUAGE,), test_only=True))
