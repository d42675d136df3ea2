"""Generate stage: a local causal/chat model answers every prompt; resumable and checkpointed."""

from __future__ import annotations

from collections.abc import Callable

from datasets import Dataset
from pydantic import BaseModel, ConfigDict, Field

from . import columns as C
from .errors import InputError

Checkpoint = Callable[[Dataset], None]


class GenerateConfig(BaseModel):
    """Options of `curate generate`."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field("smollm2", description="Hub id, local folder, .gguf file or a bundled short name.")
    max_new_tokens: int = Field(128, ge=1)
    batch_size: int = Field(8, ge=1)
    do_sample: bool = False
    temperature: float = Field(1.0, gt=0)
    system: str | None = None
    device: str = "cpu"
    save_every: int = Field(10, ge=1, description="Checkpoint every N batches (when a checkpoint is given).")
    limit: int | None = Field(None, ge=1, description="Answer at most this many pending rows in this run.")


def pending_rows(ds: Dataset, model_id: str) -> list[int]:
    """Rows still to answer: no non-empty response from this model yet."""
    responses = ds[C.RESPONSE] if C.RESPONSE in ds.column_names else [None] * len(ds)
    makers = ds[C.GENERATED_BY] if C.GENERATED_BY in ds.column_names else [None] * len(ds)
    return [i for i, (r, m) in enumerate(zip(responses, makers, strict=True))
            if not (r and r.strip() and m == model_id)]


def with_responses(ds: Dataset, responses: list[str | None], makers: list[str | None]) -> Dataset:
    """Return `ds` with its `response` and `generated_by` columns replaced."""
    ds = ds.remove_columns([c for c in (C.RESPONSE, C.GENERATED_BY) if c in ds.column_names])
    return ds.add_column(C.RESPONSE, responses).add_column(C.GENERATED_BY, makers)


def carry_over(ds: Dataset, previous: Dataset) -> Dataset:
    """Copy answers from an earlier output (`previous`) onto `ds` by record id, so that run resumes."""
    if C.ID not in ds.column_names or C.RESPONSE not in previous.column_names:
        return ds
    old = {i: (r, m) for i, r, m in zip(previous[C.ID], previous[C.RESPONSE],
                                        previous[C.GENERATED_BY] if C.GENERATED_BY in previous.column_names
                                        else [None] * len(previous), strict=True) if r}
    responses = list(ds[C.RESPONSE]) if C.RESPONSE in ds.column_names else [None] * len(ds)
    makers = list(ds[C.GENERATED_BY]) if C.GENERATED_BY in ds.column_names else [None] * len(ds)
    for row, record in enumerate(ds[C.ID]):
        if record in old:
            responses[row], makers[row] = old[record]
    return with_responses(ds, responses, makers)


def run(ds: Dataset, cfg: GenerateConfig, checkpoint: Checkpoint | None = None,
        previous: Dataset | None = None) -> Dataset:
    """Add `response` and `generated_by` (the model id); rows already answered by the same model are skipped.

    `previous` (an earlier, maybe partial, output) lends its answers by id. `checkpoint(ds)` is called every
    `save_every` batches with the partly answered dataset, so a killed run resumes.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .lm import format_prompts, generate, load_lm

    if C.PROMPT not in ds.column_names:
        raise InputError(f"generate: no '{C.PROMPT}' column; columns found: {', '.join(ds.column_names)}",
                         "ingest the prompts first with `curate ingest SOURCE --name NAME`")
    if previous is not None:
        ds = carry_over(ds, previous)
    todo = pending_rows(ds, cfg.model)
    if cfg.limit is not None:
        todo = todo[: cfg.limit]
    responses = list(ds[C.RESPONSE]) if C.RESPONSE in ds.column_names else [None] * len(ds)
    makers = list(ds[C.GENERATED_BY]) if C.GENERATED_BY in ds.column_names else [None] * len(ds)
    if not todo:
        return with_responses(ds, responses, makers)
    lm = load_lm(cfg.model, cfg.device)
    prompts = ds[C.PROMPT][:]
    # longest prompts first: similar lengths share a batch, so less padding and an honest time estimate
    todo.sort(key=lambda i: -len(prompts[i]))
    columns = (TextColumn("generate"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("generate", total=len(todo))
        for n, start in enumerate(range(0, len(todo), cfg.batch_size), start=1):
            rows = todo[start : start + cfg.batch_size]
            texts = format_prompts(lm, [prompts[i] for i in rows], cfg.system)
            answers = generate(lm, texts, max_new_tokens=cfg.max_new_tokens, batch_size=len(rows),
                               do_sample=cfg.do_sample, temperature=cfg.temperature, formatted=True)
            for i, answer in zip(rows, answers, strict=True):
                responses[i], makers[i] = answer, cfg.model
            progress.advance(task, len(rows))
            if checkpoint is not None and n % cfg.save_every == 0 and start + cfg.batch_size < len(todo):
                checkpoint(with_responses(ds, responses, makers))
    return with_responses(ds, responses, makers)
