"""Finetune stage: LoRA supervised fine-tuning of a local causal LM on chat `messages` (peft + TRL's SFTTrainer).

The adapter is saved in the workspace (`artifacts/adapters/NAME`) and loads back anywhere a model is named, as
`BASE+adapter:NAME` (see `lm.load_lm`), so `generate`, `judge`, `eval` and the refusal direction can use it.
Training checkpoints sit beside it (`artifacts/adapters/.NAME.checkpoints`), so an interrupted run resumes.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset
from pydantic import BaseModel, ConfigDict, Field

from curation.core import columns as C
from curation.core.errors import InputError, ModelError
from curation.core.hashing import config_hash
from curation.core.report import StageReport
from curation.core.workspace import Workspace, atomic_dir

ADAPTERS = "adapters"


class FinetuneConfig(BaseModel):
    """Options of `curate finetune`: the base model, LoRA shape and a small, seeded step budget."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field("smollm2", description="Base model: Hub id, local folder, .gguf file or a bundled name.")
    name: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Adapter name.")
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = Field("all-linear", description="peft target modules.")
    max_steps: int = Field(200, ge=1)
    learning_rate: float = Field(2e-4, gt=0)
    batch_size: int = Field(8, ge=1)
    gradient_accumulation: int = Field(1, ge=1)
    max_length: int = Field(256, ge=16, description="Tokens per example; longer examples are cut.")
    seed: int = 0
    device: str = Field("cpu", description="cpu or cuda.")
    save_steps: int = Field(50, ge=1, description="Checkpoint every N steps (resume point).")
    log_every: int = Field(10, ge=1, description="Print a progress line every N steps when not on a terminal.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations (saves memory, costs time; "
                                                            "TRL turns it on by default, small models need not).")


@dataclass
class FinetuneReport(StageReport):
    """What was trained: where the adapter is, on how many examples, the loss curve's ends and the time."""

    adapter: str
    examples: int
    steps: int
    resumed_from: int | None
    first_loss: float | None
    last_loss: float | None
    seconds: float
    device: str
    meta: dict[str, Any] = field(default_factory=dict)


def adapter_dir(workspace: Workspace, name: str) -> Path:
    """Where the adapter called `name` lives in the workspace."""
    return workspace.path("artifacts", ADAPTERS, name)


def load_training_data(workspace: Workspace, source: str, split: str = "train") -> Dataset:
    """A workspace dataset, a save_to_disk folder (Dataset or DatasetDict), or `BUILD:CONFIG` from `curate build`."""
    from datasets import DatasetDict, load_from_disk

    build_name, sep, config = source.partition(":")
    if sep and not Path(source).exists():
        from curation.build.stage import load_build

        configs = load_build(workspace, build_name).configs
        if config not in configs:
            raise InputError(f"build '{build_name}' has no config '{config}'", f"known: {', '.join(sorted(configs))}")
        loaded: Dataset | DatasetDict = configs[config]
    elif (Path(source) / "dataset_dict.json").exists():
        loaded = load_from_disk(source)
    else:
        return workspace.load_dataset(source)
    if split not in loaded:
        raise InputError(f"'{source}' has no '{split}' split", f"known: {', '.join(loaded)}; pass --split")
    return loaded[split]


def to_prompt_completion(ds: Dataset) -> Dataset:
    """Conversational prompt/completion rows (loss on the last assistant turn) from `messages` or prompt+response."""
    if C.MESSAGES in ds.column_names:
        rows = []
        for messages in ds[C.MESSAGES]:
            turns = [{"role": m["role"], "content": m["content"]} for m in messages or []]
            if len(turns) < 2 or turns[-1]["role"] != "assistant" or not turns[-1]["content"]:
                continue
            rows.append({"prompt": turns[:-1], "completion": [turns[-1]]})
    elif {C.PROMPT, C.RESPONSE} <= set(ds.column_names):
        rows = [{"prompt": [{"role": "user", "content": p}], "completion": [{"role": "assistant", "content": r}]}
                for p, r in zip(ds[C.PROMPT], ds[C.RESPONSE], strict=True) if p and r]
    else:
        raise InputError(f"finetune needs a '{C.MESSAGES}' column or '{C.PROMPT}' + '{C.RESPONSE}'; "
                         f"found {', '.join(ds.column_names)}",
                         "pass a built sft config (`curate build`) or a dataset with messages")
    if not rows:
        raise InputError("finetune: no example ends with a non-empty assistant turn",
                         "check the dataset's messages (the last turn must be the assistant's answer)")
    return Dataset.from_list(rows)


def _progress_callback(every: int) -> Any:
    """A TrainerCallback printing `finetune: N/M steps, rate, ETA, loss` lines (logs and pipes get no bar)."""
    from transformers import TrainerCallback

    from curation.core.progress import ProgressLines

    class Lines(TrainerCallback):
        lines: ProgressLines | None = None
        loss = "-"

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001 - transformers' signature
            if logs and "loss" in logs:
                self.loss = f"{float(logs['loss']):.4f}"
            self.lines = self.lines or ProgressLines("finetune", state.max_steps, "steps", every)
            self.lines.update(state.global_step, f", loss {self.loss}")

    return Lines()


def _last_checkpoint(folder: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def run(ds: Dataset, cfg: FinetuneConfig, workspace: Workspace) -> FinetuneReport:
    """Train a LoRA adapter on `ds` and save it atomically as `artifacts/adapters/<name>`; resumes from checkpoints."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from curation.models.lm import resolve_lm, split_adapter

    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError("--device cuda asked for, but torch sees no CUDA device", "use --device cpu")
    train = to_prompt_completion(ds)
    data_hash = config_hash([train[i] for i in range(len(train))])
    run_key = config_hash({"data": data_hash, **cfg.model_dump(exclude={"device", "log_every", "save_steps",
                                                                       "gradient_checkpointing"})})
    target = adapter_dir(workspace, cfg.name)
    ckpts = target.with_name(f".{cfg.name}.checkpoints")
    marker = ckpts / "run.json"
    if ckpts.exists() and (not marker.exists() or json.loads(marker.read_text()).get("run_key") != run_key):
        shutil.rmtree(ckpts)  # checkpoints of another data/config are no resume point for this run
    ckpts.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"run_key": run_key}))

    base, adapter = split_adapter(cfg.model)
    if adapter:
        raise InputError(f"finetune starts from a base model, not an adapter ({cfg.model})",
                         f"pass --model {base}; train a new adapter on the combined data instead")
    path, gguf = resolve_lm(base)
    kwargs = {"gguf_file": gguf} if gguf else {}
    torch.manual_seed(cfg.seed)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **kwargs)
    except OSError as err:
        raise ModelError(f"cannot load model '{cfg.model}': {str(err).splitlines()[0][:200]}",
                         "pass a local folder or a Hub id reachable from this machine") from None
    if gguf:  # transformers dequantizes GGUF weights to float32 on load; the leftover flag only blocks training
        model.hf_quantizer, model.is_quantized = None, False
        model.config.__dict__.pop("quantization_config", None)
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(f"model '{cfg.model}' has no chat template", "fine-tune a chat model (or add a template)")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    interactive = sys.stderr.isatty()
    args = SFTConfig(
        output_dir=str(ckpts), max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation, learning_rate=cfg.learning_rate,
        lr_scheduler_type="constant_with_warmup", warmup_steps=min(10, cfg.max_steps // 10),
        seed=cfg.seed, data_seed=cfg.seed, logging_steps=1, save_steps=cfg.save_steps, save_total_limit=2,
        report_to=[], use_cpu=cfg.device == "cpu", max_length=cfg.max_length, disable_tqdm=not interactive,
        dataloader_num_workers=0, bf16=False, fp16=False, completion_only_loss=True,
        gradient_checkpointing=cfg.gradient_checkpointing,
    )
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=cfg.target_modules, task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer,
                         peft_config=lora, callbacks=[] if interactive else [_progress_callback(cfg.log_every)])
    if not interactive:  # our one-line progress replaces the printer of raw log dicts
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    resume = _last_checkpoint(ckpts)
    started = time.time()
    trainer.train(resume_from_checkpoint=resume)
    seconds = time.time() - started
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    meta = {"base_model": cfg.model, "config": cfg.model_dump(), "data_hash": data_hash, "examples": len(train),
            "run_key": run_key, "losses": losses, "seconds": round(seconds, 1)}
    with atomic_dir(target) as tmp:
        trainer.model.save_pretrained(str(tmp))
        (tmp / "curation_adapter.json").write_text(json.dumps(meta, indent=2, default=str))
    shutil.rmtree(ckpts, ignore_errors=True)
    return FinetuneReport(adapter=str(target), examples=len(train), steps=trainer.state.global_step,
                          resumed_from=int(Path(resume).name.split("-")[-1]) if resume else None,
                          first_loss=losses[0] if losses else None, last_loss=losses[-1] if losses else None,
                          seconds=round(seconds, 1), device=cfg.device, meta={"run_key": run_key})
