"""Steering and ablation hooks on a causal LM's residual stream, as context managers that always remove them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from curation.models.lm import LoadedLM, generate
from curation.models.refusal_direction.activations import check_layer, decoder_layers


def _as_tensor(lm: LoadedLM, vector: np.ndarray | Any) -> Any:
    import torch

    vec = torch.as_tensor(np.asarray(vector, dtype=np.float32)).to(lm.device)
    return vec / vec.norm().clamp(min=1e-12)


def _replace_hidden(args: tuple, kwargs: dict, new: Any) -> tuple[tuple, dict]:
    if args:
        return (new, *args[1:]), kwargs
    return args, {**kwargs, "hidden_states": new}


@contextmanager
def steering(lm: LoadedLM, direction: np.ndarray, layer: int, alpha: float) -> Iterator[None]:
    """Add `alpha` times the unit direction to the residual stream entering `layer`, at every position."""
    layer = check_layer(lm, layer)
    unit = _as_tensor(lm, direction)

    def add(_module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        hidden = args[0] if args else kwargs["hidden_states"]
        return _replace_hidden(args, kwargs, hidden + (alpha * unit).to(hidden.dtype))

    handle = decoder_layers(lm.model)[layer].register_forward_pre_hook(add, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def ablation(lm: LoadedLM, direction: np.ndarray) -> Iterator[None]:
    """Project the direction out of the residual stream entering every layer and the final norm."""
    unit = _as_tensor(lm, direction)

    def project_out(_module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        hidden = args[0] if args else kwargs["hidden_states"]
        u = unit.to(hidden.dtype)
        return _replace_hidden(args, kwargs, hidden - (hidden @ u).unsqueeze(-1) * u)

    modules = list(decoder_layers(lm.model))
    final_norm = getattr(getattr(lm.model, "model", None), "norm", None)
    if final_norm is not None:
        modules.append(final_norm)
    handles = []
    try:
        for module in modules:
            handles.append(module.register_forward_pre_hook(project_out, with_kwargs=True))
        yield
    finally:
        for handle in handles:
            handle.remove()


def steered_generate(lm: LoadedLM, prompts: Sequence[str], direction: np.ndarray, layer: int, alpha: float,
                     max_new_tokens: int = 64, batch_size: int = 8, system: str | None = None) -> list[str]:
    """Greedy generations with the steering hook in place (alpha = 0 is a plain generation)."""
    if alpha == 0:
        return generate(lm, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, system=system)
    with steering(lm, direction, layer, alpha):
        return generate(lm, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, system=system)


def ablated_generate(lm: LoadedLM, prompts: Sequence[str], direction: np.ndarray, max_new_tokens: int = 64,
                     batch_size: int = 8) -> list[str]:
    """Greedy generations with the direction ablated at every layer."""
    with ablation(lm, direction):
        return generate(lm, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)
