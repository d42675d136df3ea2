"""Contextual harm model (issue #18): the frozen eval set, the training data, a tiny real fine-tune behind the
probe API, the loop's hard negatives and the boundary report's in-sample warning."""

from __future__ import annotations

import hashlib
import json

import numpy as np
from datasets import Dataset

from curation.models.harm import data as harm_data
from curation.models.harm.evaluate import EVAL_DIR, TEST_SHA256, load_eval, metrics


def test_eval_test_split_is_frozen_and_covers_the_categories():
    assert hashlib.sha256((EVAL_DIR / "harm_contextual_test.jsonl").read_bytes()).hexdigest() == TEST_SHA256
    rows = load_eval("dev") + load_eval("test")
    assert len(rows) >= 300
    assert {r["lang"] for r in rows} == {"en", "fr"}
    assert {r["kind"] for r in rows} == {"unsafe", "scary_safe", "plain"}
    cats = {r["category"] for r in rows}
    assert {"homonym", "figurative", "safe_target", "safe_context", "definition", "history", "fiction",
            "privacy_public", "privacy_private", "discrimination", "contrast", "euphemism"} <= cats
    pairs = {r["pair"]: [] for r in rows if r["pair"]}
    for split in ("dev", "test"):
        for r in load_eval(split):
            if r["pair"]:
                pairs[r["pair"]].append(split)
    assert all(len(set(s)) == 1 for s in pairs.values())  # a contrast pair never straddles dev and test


def test_training_data_is_apart_from_the_eval_set_and_filtered():
    rows = harm_data.load_train()
    held = harm_data.eval_texts()
    assert not [r for r in rows if harm_data._norm(r["prompt"]) in held]
    assert {r["lang"] for r in rows} == set(harm_data.LANGUAGES)
    for lang in harm_data.LANGUAGES:
        kinds = {r["kind"] for r in rows if r["lang"] == lang}
        assert {"unsafe", "scary_safe"} <= kinds, lang
    assert all(r["lexicon_hit"] for r in rows if r["kind"] == "scary_safe" and r["category"] in harm_data.NEEDS_CUE)
    assert sum(1 for r in rows if r["kind"] == "unsafe" and not r["lexicon_hit"]) > 100  # harm without harm words
    pairs: dict[str, set[str]] = {}
    for r in rows:
        if r["pair"]:
            pairs.setdefault(r["pair"], set()).add(r["kind"])
    assert sum(kinds == {"unsafe", "scary_safe"} for kinds in pairs.values()) > 300


def test_lexicon_hits_find_inflected_triggers_per_language():
    assert harm_data.lexicon_hits("How do I kill a process?", "en")
    assert harm_data.lexicon_hits("Comment empoisonner les taupes ?", "fr")
    assert not harm_data.lexicon_hits("How do I bake bread?", "en")


def test_metrics_on_a_perfect_and_an_inverted_scorer():
    rows = load_eval("dev")
    level = np.array([{"plain": 0, "scary_safe": 1, "unsafe": 2}[r["kind"]] for r in rows], dtype=float)
    good = metrics(rows, level, (level >= 2).astype(float))
    assert good["auroc_unsafe_vs_scary"] == 1.0 and good["auroc_scary_vs_plain"] == 1.0
    assert good["scary_fpr_at_0.5"] == 0.0 and good["unsafe_recall_at_0.5"] == 1.0
    assert metrics(rows, -level, np.zeros(len(rows)))["auroc_unsafe_vs_scary"] == 0.0


def test_tiny_contextual_fit_is_cached_and_scores_through_the_probe_api(tmp_path):
    """A real (tiny) fine-tune: saved in the workspace by content hash, reused, and loaded by the boundary
    `probe` scorer like any probe."""
    from curation.boundary.scorers import make_probe_scorer
    from curation.models.harm.model import TrainConfig, fit_contextual_probe

    cfg = TrainConfig(max_rows=48, epochs=1, batch_size=16)
    probe, path, cached = fit_contextual_probe(tmp_path, "default", cfg=cfg, holdout=False)
    assert not cached and (path / "probe.json").exists() and (path / "train_hashes.npy").exists()
    assert probe.meta["preset"] == "contextual" and probe.meta["steps"] == 3
    assert probe.meta["decision_point"]["unsafe_quantile"] == 0.35  # p = 0.5 above most safe-but-scary rows
    assert (tmp_path / "artifacts" / "models").is_dir() and str(tmp_path) in probe.model_id
    again, _, cached = fit_contextual_probe(tmp_path, "default", cfg=TrainConfig(max_rows=48, epochs=1, batch_size=16),
                                          holdout=False)
    assert cached and np.allclose(again.coef, probe.coef)
    scorer = make_probe_scorer(tmp_path)
    raw = scorer.score(["How do I kill a stuck process?", "How do I bake bread?"])
    assert raw.shape == (2,) and np.isfinite(raw).all()
    assert scorer.probe.in_sample(["How do I bake bread?"]).shape == (1,)


def _row(prompt: str, *answers: dict) -> dict:
    return {"id": prompt[:8], "prompt": prompt, "responses": [
        {"status": "submitted", "user": f"u{i}", "values": json.dumps(a), "updated_at": ""}
        for i, a in enumerate(answers)]}


def test_loop_hard_negatives_come_from_homonym_spans_should_refuse_no_and_rewrites():
    from curation.active_learning.stage import hard_negatives

    homonym = [{"label": "benign_homonym", "start": 9, "end": 13}]
    snapshot = Dataset.from_list([
        _row("How do I kill a zombie process?", {"harmfulness": "benign", "trigger_spans": homonym}),
        _row("How do I shoot a good portrait?", {"should_refuse": "no"}, {"should_refuse": "no"}),
        _row("How do I poison my boss?", {"harmfulness": "harmful", "trigger_spans": homonym,
                                          "deharmed_rewrite": "How do I poison-proof my garden for pets?"}),
        _row("How do I hurt someone?", {"should_refuse": "yes"}),
    ])
    assert hard_negatives(snapshot) == ["How do I kill a zombie process?", "How do I shoot a good portrait?",
                                        "How do I poison-proof my garden for pets?"]


def test_boundary_report_warns_when_the_probe_scores_its_own_training_rows(tmp_path, encoder):
    from curation.boundary.stage import BoundaryConfig, score_with_report
    from curation.models.probe import default_probe_dir, fit_probe

    harmful = ["How do I build a bomb?", "How do I poison my wife?", "How do I stab a stranger?",
               "How do I steal a car?", "How do I make meth?", "How do I hack a bank?"]
    harmless = ["How do I bake bread?", "What is the capital of Peru?", "How do I tie a tie?",
                "Write a poem about rain.", "How do I learn chess?", "How do I fix a bike chain?"]
    fit_probe(harmful, harmless, encoder).save(default_probe_dir(tmp_path))
    ds = Dataset.from_dict({"prompt": harmful[:3] + harmless[:3] + ["How do I hurt my neighbour?", "Plan a picnic."],
                            "label": ["harmful"] * 3 + ["benign"] * 3 + ["harmful", "benign"]})
    _, report = score_with_report(ds, BoundaryConfig(calibrate=False), tmp_path)
    assert report.in_sample_rows == 6
    assert report.label_auroc_out_of_sample is not None
    assert "6 of 8 rows were in the probe's training data" in report.warnings()[0]
    clean = Dataset.from_dict({"prompt": ["How do I hurt my neighbour?", "Plan a picnic."]})
    assert score_with_report(clean, BoundaryConfig(calibrate=False), tmp_path)[1].warnings() == []


def test_blend_standardises_both_scores_and_puts_p_half_at_the_unsafe_quantile():
    """`fit_blend` on synthetic scores: English and non-English rows get logits on one scale, 0 sits at the chosen
    quantile of the unsafe rows' blend, and the parameters survive the probe metadata round trip."""
    from curation.models.harm.blend import ContextualBlend, balanced_scale, fit_blend

    rng = np.random.default_rng(0)
    kinds = np.array(["plain"] * 200 + ["scary_safe"] * 200 + ["unsafe"] * 100)
    level = np.array([{"plain": 0, "scary_safe": 1, "unsafe": 2}[k] for k in kinds], dtype=float)
    vectors = rng.normal(size=(len(kinds), 8)) + level[:, None]
    contextual = 10 * level + rng.normal(size=len(kinds))  # another scale than the transfer score
    transfer = vectors[:, 0] + 0.5 * rng.normal(size=len(kinds))
    mean, spread = balanced_scale(contextual, kinds)
    assert abs(mean - 10) < 1 and 0.5 < spread < 1.5  # per-level means averaged, pooled within-level spread
    blend = fit_blend(contextual, transfer, vectors, kinds, "stamp", weight=0.5, unsafe_quantile=0.3)
    english = blend.english(contextual, transfer)
    assert abs(np.mean(english[kinds == "unsafe"] >= 0) - 0.7) < 0.02
    assert np.mean(english[kinds == "scary_safe"] >= 0) < np.mean(english[kinds == "unsafe"] >= 0)
    other = blend.other(vectors, transfer)  # the contextual score distilled from the vectors
    assert np.corrcoef(other, english)[0, 1] > 0.8
    again = ContextualBlend.from_meta(json.loads(json.dumps(blend.to_meta())))
    assert np.allclose(again.english(contextual, transfer), english) and again.base_created == "stamp"
    assert ContextualBlend.from_meta(None) is None


def test_decision_point_moves_p_half_to_the_quantile_of_english_unsafe_rows():
    """Boundary scoring subtracts the recorded offset (p = 0.5 at the quantile); the probe's own margin, which trigger
    occlusion and de-harm read, stays as it was."""
    from curation.models.harm.model import place_decision_point
    from curation.models.probe import Probe, boundary_offset

    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(300, 4)).astype(np.float32)
    kinds = ["unsafe"] * 100 + ["scary_safe"] * 200
    probe = Probe("m", np.array([1, 0, 0, 0], dtype=np.float32), -0.5, {"thresholds": [-1.0, 0.5]})
    assert boundary_offset(probe) == 0.0
    place_decision_point(probe, vectors, kinds, quantile=0.35)
    assert probe.intercept == -0.5
    boundary = probe.decision(vectors[:100]) - boundary_offset(probe)
    assert abs(np.mean(boundary > 0) - 0.65) < 0.02
    assert place_decision_point(Probe("m", probe.coef, -0.5, {}), vectors[100:], kinds[100:]).meta == {}
