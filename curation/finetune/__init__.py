"""Finetune stage: LoRA supervised fine-tuning of a local causal LM on chat `messages` (peft + TRL's SFTTrainer).

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.finetune.stage import (
    FinetuneConfig,
    FinetuneReport,
    adapter_dir,
    load_training_data,
    run,
    to_prompt_completion,
)

__all__ = [
    "FinetuneConfig",
    "FinetuneReport",
    "adapter_dir",
    "load_training_data",
    "run",
    "to_prompt_completion",
]
