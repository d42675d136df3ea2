"""ONNX Runtime encoder backends (`onnx:MODEL`, `onnx-int8:MODEL`): the same mean-pooled sentence embedding as the
sentence-transformers model, exported once to ONNX (int8: dynamic per-channel weight quantization), for CPU
throughput at corpus scale (measured 2.5x MiniLM on 2 idle cores, cosine 0.992 to the float model;
`benchmarks/bench_onnx_encoder.py`)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from curation.core.errors import ModelError
from curation.core.hashing import sha
from curation.core.registry import embedders
from curation.models.encoder_base import l2_normalize, resolve_model_path

__all__ = ["OnnxEncoder", "onnx_cache_dir", "export_onnx"]
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def onnx_cache_dir() -> Path:
    """Where exported models live: `CURATE_ONNX_CACHE`, else `~/.cache/refusal-curation/onnx`."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "refusal-curation" / "onnx"
    return Path(os.environ.get("CURATE_ONNX_CACHE", default))


def _require(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ModelError(f"the ONNX encoder backends need '{module}'",
                         "pip install 'refusal-curation[scale]' (onnxruntime, onnx)")


def export_onnx(path: str, quantize: bool) -> Path:
    """Export the Hugging Face encoder at `path` to ONNX (and quantize it) once; later calls return the file.

    The file is written under a temporary name and renamed, so concurrent workers never read half a model."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    target = onnx_cache_dir() / sha(f"{Path(path).resolve()}\x00{quantize}\x00v1", 16)
    final = target / ("model.int8.onnx" if quantize else "model.onnx")
    if final.exists():
        return final
    _require("onnx")
    target.mkdir(parents=True, exist_ok=True)
    model = AutoModel.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN202 - traced
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = tokenizer(["export me"], return_tensors="pt", return_token_type_ids=True)
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        plain = Path(tmp) / "model.onnx"
        torch.onnx.export(LastHidden(model), tuple(sample[k] for k in INPUTS), str(plain), input_names=list(INPUTS),
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={k: {0: "batch", 1: "tokens"} for k in (*INPUTS, "last_hidden_state")})
        made = plain
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            made = Path(tmp) / "model.int8.onnx"
            quantize_dynamic(str(plain), str(made), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(made, final)
    return final


class OnnxEncoder:
    """Mean pooling over an ONNX Runtime session; texts are length-sorted so batches carry little padding.
    CPU only (the CPU execution provider): on a GPU use the default sentence-transformers backend with device=cuda."""

    def __init__(self, model: str, device: str = "cpu", quantize: bool = True) -> None:
        _require("onnxruntime")
        import onnxruntime as ort
        from transformers import AutoTokenizer

        path = resolve_model_path(model)
        if not Path(path).is_dir():
            raise ModelError(f"the ONNX backend needs a local model folder, not '{model}'",
                             "download it first (huggingface-cli download) and pass the folder")
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(os.environ.get("CURATE_ONNX_THREADS", "0"))  # 0: every core
        file = export_onnx(path, quantize)
        self.session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.model_id = f"{'onnx-int8' if quantize else 'onnx'}:{model}"
        self.dim = int(json.loads((Path(path) / "config.json").read_text())["hidden_size"])
        self.max_length = _max_seq_length(Path(path))
        self.device = device

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_length,
                                 return_tensors="np", return_token_type_ids=True)
            hidden = self.session.run(None, {k: enc[k].astype(np.int64) for k in self.inputs})[0]
            mask = enc["attention_mask"][..., None].astype(np.float32)
            out[idx] = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
        return l2_normalize(out)


def _max_seq_length(path: Path) -> int:
    """The sentence-transformers max_seq_length when the folder has one (MiniLM: 256), else 256."""
    config = path / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


@embedders.register("onnx.v1")
def make_onnx(model: str, device: str = "cpu") -> OnnxEncoder:
    return OnnxEncoder(model, device, quantize=False)


@embedders.register("onnx-int8.v1")
def make_onnx_int8(model: str, device: str = "cpu") -> OnnxEncoder:
    return OnnxEncoder(model, device, quantize=True)
