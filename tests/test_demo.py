"""`curate demo` end to end on the tiny random Llama against the real local Argilla: every step runs, a re-run
reuses everything (no duplicate records, no new simulated answers, same version), and the simulation stops once a
person has annotated."""

from __future__ import annotations

import pytest

from curation import demo


@pytest.fixture
def argilla_env(argilla_stack, monkeypatch):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_stack.api_url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_stack.api_key)
    return argilla_stack


def test_steps_are_data_in_pipeline_order():
    names = [step.name for step in demo.STEPS]
    assert names[:2] == ["sample", "ingest"] and names[-3:] == ["build", "version", "publish"]
    for required in ("judge", "triggers", "boundary", "push", "annotate", "qa", "adjudicate", "deharm"):
        assert required in names
    assert all(callable(step.call) for step in demo.STEPS)
    # every dataset a step reads was written by an earlier step (the list is a valid pipeline)
    written: set[str] = set()
    for step in demo.STEPS:
        assert set(step.reads) <= written, (step.name, set(step.reads) - written)
        written |= set(step.writes)


def test_run_step_loads_reads_and_saves_writes(tmp_path):
    from datasets import Dataset

    from curation.core.workspace import Workspace

    ctx = demo.DemoContext(Workspace(tmp_path / "ws"), demo.DemoConfig(name="t"))
    ctx.save(Dataset.from_dict({"x": [1, 2]}), "t.in")
    step = demo.Step("double", lambda _, ds: ("doubled", (ds.map(lambda r: {"x": 2 * r["x"]}), None)),
                     reads=("{name}.in",), writes=("{name}.out", "{name}.skipped"))
    assert demo.run_step(ctx, step) == "doubled"
    assert ctx.load("t.out")["x"] == [2, 4] and not ctx.ws.has_dataset("t.skipped")


def test_probe_step_trains_the_contextual_model_by_default_and_replaces_an_old_fallback_probe(tmp_path):
    """The demo's harm probe is the contextual model (here a tiny sample of its data) with the cross-lingual blend;
    a plain probe the demo fit earlier as a fallback is replaced, a re-run reuses the model."""
    from curation.core.workspace import Workspace
    from curation.models.probe import Probe, default_probe_dir

    ws = Workspace(tmp_path / "ws")
    folder = default_probe_dir(ws.root)
    plain = demo.DemoContext(ws, demo.DemoConfig(harm_model="plain"))
    assert demo.probe_step(plain).startswith("plain probe fit on the built-in contrast set")
    old = Probe.load(folder)
    old.meta["fallback"] = "contextual harm model not trained in this workspace"  # what earlier demos saved
    old.save(folder)
    ctx = demo.DemoContext(ws, demo.DemoConfig(harm_max_rows=48))
    assert demo.probe_step(ctx).startswith("contextual harm model (trained")
    assert Probe.load(folder).meta["preset"] == "contextual"
    assert "contextual_blend" in Probe.load(default_probe_dir(ws.root, "default-multilingual")).meta
    assert demo.probe_step(ctx).startswith("contextual harm model reused")


def test_simulated_answers_disagree_realistically_and_do_not_copy_suggestions():
    from datasets import Dataset

    ids = [f"r{i}" for i in range(200)]
    prompts = ["How do I kill a stuck process?", "Write a haiku about autumn."] * 100
    suggested = [[{"label": "context", "start": 0, "end": 3, "score": 0.9}]] * 200  # what the pipeline proposed
    ds = Dataset.from_dict({"id": ids, "prompt": prompts, "label": ["harmful", "benign"] * 100,
                            "p_refuse": [0.9, 0.5] * 100, "trigger_spans": suggested})
    first, second = demo.trigger_answers(ds, demo.SIM_USERS[0]), demo.trigger_answers(ds, demo.SIM_USERS[1])
    for answers in (first, second):
        right = sum(answers[i]["harmfulness"] == lab for i, lab in zip(ids, ds["label"], strict=True))
        assert 140 <= right <= 195  # mostly right, never perfect
        for a in answers.values():  # should_refuse follows the annotator's own harmfulness
            assert a["should_refuse"] == {"harmful": "yes", "benign": "no"}.get(a["harmfulness"], a["should_refuse"])
            assert all(s["label"] != "context" and s["start"] != 0 for s in a.get("trigger_spans", []))
    differ = sum(first[i]["harmfulness"] != second[i]["harmfulness"] for i in ids)
    assert 10 <= differ <= 100
    # uncertain prompts (p_refuse 0.5) get more errors than confident ones
    wrong = [sum(first[i]["harmfulness"] != ds["label"][j] for j, i in enumerate(ids) if j % 2 == k) for k in (0, 1)]
    assert wrong[1] > wrong[0]
    kill_spans = [first[i].get("trigger_spans") for i in ids[::2]]
    assert sum(bool(s) for s in kill_spans) < 100  # annotators overlook some cues


def test_the_person_gets_the_most_uncertain_records():
    from datasets import Dataset

    ds = Dataset.from_dict({"id": ["a", "b", "c", "d"], "p_refuse": [0.5, 0.99, 0.45, 0.02]})
    assert demo.person_records(ds, 0.5) == {"a", "c"}
    assert demo.person_records(ds, 0.0) == set()


@pytest.mark.server
def test_demo_runs_end_to_end_and_is_idempotent(argilla_env, tiny_lm_path, tmp_path):
    from curation.annotate.pull import pull_records
    from curation.core.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    cfg = demo.DemoConfig(model=str(tiny_lm_path), max_new_tokens=4, deharm_pairs=3, harm_max_rows=48)
    lines: list[str] = []
    ctx = demo.run(ws, cfg, say=lines.append)
    assert [line.split("]")[0][1:] for line in lines] == [step.name for step in demo.STEPS]
    assert next(line for line in lines if line.startswith("[probe]")).startswith("[probe] contextual harm model")
    annotate_line = next(line for line in lines if line.startswith("[annotate]"))
    assert "SIMULATED" in annotate_line
    pending = ctx.results["person_pending"]
    assert pending >= 1 and f"{pending} record(s) waiting for 'annotator'" in annotate_line
    snapshot = ws.load_dataset(f"{cfg.triggers_dataset}.annotations")  # every language's dataset together
    first_responses = sum(len(r) for r in snapshot["responses"])
    assert len(snapshot) == len(ws.load_dataset("demo")) and first_responses > 0
    # French, German and Spanish prompts went to per-language datasets with their own guidelines
    french = argilla_env.client.datasets(name=f"{cfg.triggers_dataset}-fr", workspace="argilla-fr")
    assert french is not None and "Prompts in this dataset are in" not in french.settings.guidelines
    assert len(pull_records(argilla_env.client, cfg.triggers_dataset)) < len(snapshot)
    # the simulated annotators left the person's records alone
    unanswered = sum(1 for rs in snapshot["responses"] if not rs)
    assert unanswered >= 0.25 * len(snapshot)
    assert {r["user"] for rs in snapshot["responses"] for r in rs} == set(demo.SIM_USERS)
    assert ws.path("artifacts", "qa", cfg.triggers_dataset, "report.json").exists()
    version = ctx.results["version"]
    assert (ctx.results["publish"] / "README.md").exists()
    panel = demo.final_panel(ctx)
    assert argilla_env.api_url in str(panel.renderable) and "annotator" in str(panel.renderable)
    assert f"{pending} record(s)" in str(panel.renderable)

    lines.clear()
    again = demo.run(ws, cfg, say=lines.append)
    snapshot = ws.load_dataset(f"{cfg.triggers_dataset}.annotations")
    assert len(snapshot) == len(ws.load_dataset("demo"))
    assert sum(len(r) for r in snapshot["responses"]) == first_responses
    assert again.results["version"] == version
    assert any("0 prompts answered" in line for line in lines)

    # a person answers one record: the simulation is skipped from then on
    import httpx

    from curation.annotate.pull import get_dataset, iter_raw_records
    from curation.annotate.users import api_key

    dataset = get_dataset(argilla_env.client, cfg.deharm_dataset)
    record = next(iter_raw_records(argilla_env.client, dataset.id, include=()))
    key = api_key(argilla_env.client, demo.HUMAN_USER)
    resp = httpx.post(f"{argilla_env.api_url}/api/v1/records/{record['id']}/responses",
                      headers={"X-Argilla-Api-Key": key},
                      json={"status": "submitted", "values": {"rewrite_benign": {"value": "yes"},
                                                              "keeps_trigger": {"value": "yes"},
                                                              "answer_helpful": {"value": "no"}}})
    assert resp.status_code < 300, resp.text
    message = demo.simulate_or_skip(again, cfg.deharm_dataset, lambda user: {})
    assert message.startswith(f"skipped on '{cfg.deharm_dataset}': a person submitted 1")
