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


def test_steps_are_named_functions_in_pipeline_order():
    names = [name for name, _ in demo.STEPS]
    assert names[:2] == ["sample", "ingest"] and names[-3:] == ["build", "version", "publish"]
    for required in ("judge", "triggers", "boundary", "push", "annotate", "qa", "adjudicate", "deharm"):
        assert required in names
    assert all(callable(step) for _, step in demo.STEPS)


def test_simulated_answers_follow_the_gold_labels_with_a_little_disagreement():
    from datasets import Dataset

    ids = [f"r{i}" for i in range(200)]
    ds = Dataset.from_dict({"id": ids, "label": ["harmful", "benign"] * 100, "trigger_spans": [[]] * 200})
    first, second = demo.trigger_answers(ds, demo.SIM_USERS[0]), demo.trigger_answers(ds, demo.SIM_USERS[1])
    assert all(first[i]["harmfulness"] == lab for i, lab in zip(ids, ds["label"], strict=True))
    differ = sum(first[i]["harmfulness"] != second[i]["harmfulness"] for i in ids)
    assert 5 <= differ <= 50


def test_demo_runs_end_to_end_and_is_idempotent(argilla_env, tiny_lm_path, tmp_path):
    from curation.annotate.pull import pull_records
    from curation.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    cfg = demo.DemoConfig(model=str(tiny_lm_path), max_new_tokens=4, deharm_pairs=3)
    lines: list[str] = []
    ctx = demo.run(ws, cfg, say=lines.append)
    assert [line.split("]")[0][1:] for line in lines] == [name for name, _ in demo.STEPS]
    annotate_line = next(line for line in lines if line.startswith("[annotate]"))
    assert "SIMULATED" in annotate_line
    snapshot = pull_records(argilla_env.client, cfg.triggers_dataset)
    first_responses = sum(len(r) for r in snapshot["responses"])
    assert len(snapshot) == len(ws.load_dataset("demo")) and first_responses > 0
    assert {r["user"] for rs in snapshot["responses"] for r in rs} == set(demo.SIM_USERS)
    assert ws.path("artifacts", "qa", cfg.triggers_dataset, "report.json").exists()
    version = ctx.results["version"]
    assert (ctx.results["publish"] / "README.md").exists()
    panel = demo.final_panel(ctx)
    assert argilla_env.api_url in str(panel.renderable) and "annotator" in str(panel.renderable)

    lines.clear()
    again = demo.run(ws, cfg, say=lines.append)
    snapshot = pull_records(argilla_env.client, cfg.triggers_dataset)
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
    assert message.startswith("skipped: a person submitted 1")
