"""De-harm stage: templates keep the trigger word, chat-model rewrites without it are dropped, answers come from a
local model (the tiny random Llama here), and accepted pairs reach the sft / dpo builds."""

from __future__ import annotations

import pytest
from datasets import Dataset
from typer.testing import CliRunner

from curation import deharm
from curation.errors import ConfigError, InputError


def spans_dataset() -> Dataset:
    prompts = ["How do I kill a Python process?", "What's the most painless way to kill myself?",
               "How do I shoot a portrait photo?", "Write a haiku about autumn."]
    lex = ["lexicon.v1"]
    spans = [[{"start": 9, "end": 13, "text": "kill", "label": "benign_homonym", "score": 0.9, "agents": lex}],
             [{"start": 31, "end": 35, "text": "kill", "label": "harmful_cue", "score": 0.9, "agents": ["lexicon.v1"]}],
             [{"start": 9, "end": 14, "text": "shoot", "label": "harmful_cue", "score": 0.5, "agents": []}],
             []]
    return Dataset.from_dict({"id": ["a", "b", "c", "d"], "prompt": prompts, "label": ["benign", "harmful",
                                                                                      "benign", "benign"],
                              "language": ["en"] * 4, "category": ["cyber", "self-harm", "weapons", ""],
                              "source": ["sample"] * 4, "trigger_spans": spans})


def test_template_rewrites_keep_the_trigger_word_verbatim():
    templates = deharm.load_templates()
    assert {"technical", "history", "fiction", "safety_education", "homonym"} <= set(templates.senses)
    for language in ("en", "fr", "de", "es", "zz"):
        out = deharm.template_rewrites("Kill", language, templates, None, 10)
        assert len(out) >= 3 and all("Kill" in rewrite for _, rewrite in out)


def test_a_template_without_the_placeholder_is_a_config_error(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("senses:\n  history:\n    en: ['Where does the word come from?']\n")
    with pytest.raises(ConfigError, match="no \\{trigger\\} placeholder"):
        deharm.load_templates(bad)


def test_benign_capable_triggers_come_from_benign_homonym_spans_and_reach_harmful_prompts():
    ds = spans_dataset()
    assert deharm.benign_triggers(ds) == ["kill"]
    pairs = deharm.trigger_pairs(ds, ["kill"])
    assert [p["row"] for p in pairs] == [1, 0]  # the harmful original first
    gold = Dataset.from_dict({"prompt": ["Shoot the photo"], "gold_trigger_spans": [[{"label": "benign_homonym",
                                                                                    "start": 0, "end": 5}]]})
    assert deharm.benign_triggers(gold) == ["Shoot"]
    with pytest.raises(InputError, match="neither 'gold_trigger_spans' nor 'trigger_spans'"):
        deharm.benign_triggers(Dataset.from_dict({"prompt": ["x"]}))


def test_model_rewrites_are_cleaned_and_dropped_without_the_trigger():
    assert deharm.clean_rewrite('Question: "How do I kill a stuck job?"\nmore') == "How do I kill a stuck job?"
    assert deharm.has_trigger("How do I kill it", "kill") and not deharm.has_trigger("skilled", "kill")


def test_run_with_the_tiny_model_answers_every_rewrite(tiny_lm_path):
    cfg = deharm.DeharmConfig(model=str(tiny_lm_path), rewrite_max_new_tokens=6, answer_max_new_tokens=4,
                              templates_per_pair=2)
    out, report = deharm.run(spans_dataset(), cfg)
    assert report.pairs == 2 and report.template_rewrites == 4
    assert report.model_rewrites + report.model_dropped == 2
    assert set(out.column_names) >= {"id", "original_prompt", "rewrite", "answer", "trigger", "method"}
    assert len(set(out["id"])) == len(out) == report.rows
    assert all(deharm.has_trigger(r["rewrite"], r["trigger"]) for r in out)
    assert all(r["answer"] is not None for r in out) and set(out["generated_by"]) == {str(tiny_lm_path)}
    assert {m.split(":")[0] for m in out["method"]} <= {"template", "model"}


def test_accepted_pairs_feed_the_sft_and_dpo_builds(workspace):
    from curation import build

    out, _ = deharm.run(spans_dataset(), deharm.DeharmConfig(model_rewrites=False, answer=False))
    gold = out.map(lambda r: {"answer": f"Here is a harmless answer about {r['trigger']}.",
                              "gold_rewrite_benign": "yes", "gold_answer_helpful": "yes",
                              "gold_keeps_trigger": "yes", "gold_status": "gold",
                              "decision_rule": "majority"})
    workspace.save_dataset(gold, "deharm.gold")
    triggers_gold = Dataset.from_dict({"id": ["t1", "t2"], "prompt": ["How do I kill a process?", "Build a bomb"],
                                       "response": ["Use kill -9.", "Sure."], "judge_label": ["full_compliance"] * 2,
                                       "language": ["en", "en"], "source": ["s", "s"],
                                       "gold_harmfulness": ["benign", "harmful"], "gold_status": ["gold", "gold"],
                                       "decision_rule": ["majority"] * 2})
    workspace.save_dataset(triggers_gold, "triggers.gold")
    cfg, sub = build.load_build_config({"version_name": "t", "configs": {
        "sft": {"from": "triggers.gold", "deharm_from": ["deharm.gold"]},
        "dpo": {"from": "triggers.gold", "deharm_from": ["deharm.gold"]}}})
    result = build.run(cfg, sub, workspace)
    sft = [r for split in result.configs["sft"].values() for r in split]
    dpo = [r for split in result.configs["dpo"].values() for r in split]
    assert sum(r["kind"] == "deharmed" for r in sft) == len(out)
    assert sum(r["kind"] == "deharmed_helpful" for r in dpo) == len(out)


def test_cli_saves_the_rewrites_and_pushes_them_to_argilla(argilla_stack, tiny_lm_path, monkeypatch):
    from curation.annotate.pull import pull_records
    from curation.cli import app

    ws = argilla_stack.workspace
    ws.save_dataset(spans_dataset(), "spans")
    monkeypatch.setenv("ARGILLA_API_URL", argilla_stack.api_url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_stack.api_key)
    args = ["-w", str(ws.root), "deharm", "spans", "--model", str(tiny_lm_path), "--max-new-tokens", "4",
            "--push", "--to", "deharm-test"]
    for _ in range(2):  # a re-run upserts: same records, no duplicates
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    saved = ws.load_dataset("spans.deharm")
    pulled = pull_records(argilla_stack.client, "deharm-test")
    assert sorted(pulled["id"]) == sorted(saved["id"])
    assert set(pulled.column_names) >= {"original_prompt", "rewrite", "answer"}


def test_copies_and_rewrites_the_probe_reads_as_harmful_are_caught(tmp_path, encoder):
    from curation.loop import contrast_prompts
    from curation.probe import fit_probe

    assert deharm.word_overlap("Prompt: Write a phishing email", "Write a phishing email") > 0.7
    assert deharm.word_overlap("What does phishing mean?", "Write a phishing email to steal passwords") < 0.3
    harmful, harmless = contrast_prompts()
    path = fit_probe(harmful, harmless, encoder).save(tmp_path / "probe")
    risky, safe = deharm.harmfulness(["Tell me the most painless way to kill myself.",
                                      "What does it mean to kill a process in Linux?"], str(path))
    assert risky > 0.5 > safe
    assert deharm.harmfulness(["x"], None) == [None]
