"""Generate stage: a local causal/chat model answers every prompt; resumable and checkpointed. Each answer records
why it ended (`finish_reason`: `stop`, or `length` when cut at max_new_tokens) and its token counts, so later
stages can leave truncated answers out."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from typing import Any

from datasets import Dataset
from pydantic import BaseModel, ConfigDict, Field

from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.progress import ProgressLines

Checkpoint = Callable[[Dataset], None]
DEFAULT_MAX_NEW_TOKENS = 256  # fits a complete answer to a short instruction (128 cut most SmolLM2 answers)
ANSWER_COLUMNS = (C.RESPONSE, C.GENERATED_BY, C.FINISH_REASON, C.PROMPT_TOKENS, C.COMPLETION_TOKENS)


class GenerateConfig(BaseModel):
    """Options of `curate generate`."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field("smollm2", description="Hub id, local folder, .gguf file or a bundled short name.")
    max_new_tokens: int = Field(DEFAULT_MAX_NEW_TOKENS, ge=1)
    batch_size: int = Field(8, ge=1)
    do_sample: bool = False
    temperature: float = Field(1.0, gt=0)
    system: str | None = None
    device: str = "cpu"
    save_every: int = Field(10, ge=1, description="Checkpoint every N batches (when a checkpoint is given).")
    limit: int | None = Field(None, ge=1, description="Answer a seeded sample of at most this many pending rows.")
    seed: int = Field(0, description="Seed of the --limit sample.")
    progress_every: int | None = Field(None, ge=1, description="Off a terminal: a progress line every N rows.")


def pending_rows(ds: Dataset, model_id: str) -> list[int]:
    """Rows still to answer: no non-empty response from this model yet."""
    responses = ds[C.RESPONSE] if C.RESPONSE in ds.column_names else [None] * len(ds)
    makers = ds[C.GENERATED_BY] if C.GENERATED_BY in ds.column_names else [None] * len(ds)
    return [i for i, (r, m) in enumerate(zip(responses, makers, strict=True))
            if not (r and r.strip() and m == model_id)]


def _answer_columns(ds: Dataset) -> dict[str, list[Any]]:
    return {c: list(ds[c]) if c in ds.column_names else [None] * len(ds) for c in ANSWER_COLUMNS}


def with_responses(ds: Dataset, responses: list[str | None], makers: list[str | None],
                   details: dict[str, list[Any]] | None = None) -> Dataset:
    """Return `ds` with its `response`, `generated_by`, `finish_reason` and token-count columns replaced."""
    from datasets import Value

    values = {C.RESPONSE: responses, C.GENERATED_BY: makers,
              **{c: (details or {}).get(c) or [None] * len(ds) for c in ANSWER_COLUMNS[2:]}}
    ds = ds.remove_columns([c for c in ANSWER_COLUMNS if c in ds.column_names])
    features = ds.features.copy()
    for c in ANSWER_COLUMNS:
        features[c] = Value("int64") if c in (C.PROMPT_TOKENS, C.COMPLETION_TOKENS) else Value("string")
    return ds.map(lambda _, idx: {c: [values[c][i] for i in idx] for c in ANSWER_COLUMNS}, batched=True,
                  with_indices=True, features=features)


def carry_over(ds: Dataset, previous: Dataset) -> Dataset:
    """Copy answers from an earlier output (`previous`) onto `ds` by record id, so that run resumes."""
    if C.ID not in ds.column_names or C.RESPONSE not in previous.column_names:
        return ds
    prev = _answer_columns(previous)
    old = {rid: i for i, rid in enumerate(previous[C.ID]) if prev[C.RESPONSE][i]}
    cols = _answer_columns(ds)
    for row, record in enumerate(ds[C.ID]):
        if record in old:
            for c in ANSWER_COLUMNS:
                cols[c][row] = prev[c][old[record]]
    return with_responses(ds, cols[C.RESPONSE], cols[C.GENERATED_BY], cols)


class _Reporter:
    """Progress: a transient bar on a terminal, else a plain line every `every` rows with rate and ETA."""

    def __init__(self, total: int, every: int | None) -> None:
        self.total, self.done = total, 0
        self.tty = sys.stderr.isatty()
        self.lines = ProgressLines("generate", total, "rows", every)
        self.progress: Any = None

    def __enter__(self) -> _Reporter:
        if self.tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("generate"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                     transient=True)
            self.progress.__enter__()
            self.task = self.progress.add_task("generate", total=self.total)
        return self

    def advance(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress.advance(self.task, n)
            return
        self.lines.update(self.done)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)


def run(ds: Dataset, cfg: GenerateConfig, checkpoint: Checkpoint | None = None,
        previous: Dataset | None = None) -> Dataset:
    """Add `response`, `generated_by` (the model id), `finish_reason` and token counts; rows already answered by
    the same model are skipped.

    `previous` (an earlier, maybe partial, output) lends its answers by id. `checkpoint(ds)` is called every
    `save_every` batches with the partly answered dataset, so a killed run resumes. `limit` answers a seeded
    random sample of the pending rows (not the first ones).
    """
    from curation.models.lm import format_prompts, generate_detailed, load_lm

    if C.PROMPT not in ds.column_names:
        raise InputError(f"generate: no '{C.PROMPT}' column; columns found: {', '.join(ds.column_names)}",
                         "ingest the prompts first with `curate ingest SOURCE --name NAME`")
    if previous is not None:
        ds = carry_over(ds, previous)
    todo = pending_rows(ds, cfg.model)
    if cfg.limit is not None and cfg.limit < len(todo):
        todo = sorted(random.Random(cfg.seed).sample(todo, cfg.limit))
    cols = _answer_columns(ds)
    if not todo:
        return with_responses(ds, cols[C.RESPONSE], cols[C.GENERATED_BY], cols)
    lm = load_lm(cfg.model, cfg.device)
    prompts = ds[C.PROMPT][:]
    # longest prompts first: similar lengths share a batch, so less padding and an honest time estimate
    todo.sort(key=lambda i: -len(prompts[i]))
    with _Reporter(len(todo), cfg.progress_every) as progress:
        for n, start in enumerate(range(0, len(todo), cfg.batch_size), start=1):
            rows = todo[start : start + cfg.batch_size]
            texts = format_prompts(lm, [prompts[i] for i in rows], cfg.system)
            answers = generate_detailed(lm, texts, max_new_tokens=cfg.max_new_tokens, batch_size=len(rows),
                                        do_sample=cfg.do_sample, temperature=cfg.temperature, formatted=True)
            for i, answer in zip(rows, answers, strict=True):
                cols[C.RESPONSE][i], cols[C.GENERATED_BY][i] = answer.text, cfg.model
                cols[C.FINISH_REASON][i] = answer.finish_reason
                cols[C.PROMPT_TOKENS][i], cols[C.COMPLETION_TOKENS][i] = answer.prompt_tokens, answer.completion_tokens
            progress.advance(len(rows))
            if checkpoint is not None and n % cfg.save_every == 0 and start + cfg.batch_size < len(todo):
                checkpoint(with_responses(ds, cols[C.RESPONSE], cols[C.GENERATED_BY], cols))
    return with_responses(ds, cols[C.RESPONSE], cols[C.GENERATED_BY], cols)


def truncated_count(ds: Dataset) -> int:
    """Rows whose answer was cut at max_new_tokens."""
    return sum(1 for r in ds[C.FINISH_REASON] if r == C.TRUNCATED) if C.FINISH_REASON in ds.column_names else 0
