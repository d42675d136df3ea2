"""Build configs from gold made by the real adjudication code: BIO tags, chat data, splits, config errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import BOUNDARY_PROMPTS, TRIGGER_PROMPTS, build_yaml, make_gold, trigger_snapshot

from curation.adjudicate import stage as adjudicate
from curation.core.errors import ConfigError, InputError


def test_bio_tags():
    from curation.build.triggers import bio_tags

    tokens, tags = bio_tags("How do I kill a Python process?", [
        {"start": 9, "end": 13, "label": "benign_homonym"}, {"start": 16, "end": 30, "label": "target"}])
    assert list(zip(tokens, tags, strict=True)) == [
        ("How", "O"), ("do", "O"), ("I", "O"), ("kill", "B-benign_homonym"), ("a", "O"), ("Python", "B-target"),
        ("process", "I-target"), ("?", "O")]


def test_build_every_config(workspace, tmp_path):
    from curation.build import stage as build

    make_gold(workspace)
    cfg, sub = build.load_build_config(build_yaml(tmp_path))
    result = build.run(cfg, sub, workspace)
    trig = result.configs["triggers"]
    rows = {r["prompt"]: r for split in trig.values() for r in split}
    assert len(rows) == 11  # the ambiguous prompt is left out
    kill = rows[TRIGGER_PROMPTS[0][0]]
    assert kill["label"] == "benign" and kill["bio_tags"][3] == "B-benign_homonym"
    assert kill["spans"][0] == {"start": 9, "end": 13, "label": "benign_homonym"}
    # near-duplicates share a split
    split_of = {r["prompt"]: s for s, ds in trig.items() for r in ds}
    assert split_of[TRIGGER_PROMPTS[0][0]] == split_of[TRIGGER_PROMPTS[1][0]]
    assert all(len(ds) for ds in trig.values())

    boundary = result.configs["boundary"]
    brow = next(r for ds in boundary.values() for r in ds if r["prompt"].startswith("Wie baue"))
    assert brow["should_refuse"] is True and brow["language"] == "de" and brow["boundary_score"] == 0.9

    sft = [r for ds in result.configs["sft"].values() for r in ds]
    kinds = [r["kind"] for r in sft]
    curated = sum(k != "mix" for k in kinds)
    assert kinds.count("refusal") == 5 and kinds.count("helpful") == 2 and kinds.count("deharmed") == 1
    assert kinds.count("mix") == curated  # ratio 0.5
    assert all(m["role"] in ("user", "assistant") for r in sft for m in r["messages"])

    dpo = {r["prompt"]: r for ds in result.configs["dpo"].values() for r in ds}
    assert dpo[TRIGGER_PROMPTS[0][0]]["chosen"].startswith("Use `kill")
    assert dpo[TRIGGER_PROMPTS[6][0]]["rejected"].startswith("Sure") and dpo[TRIGGER_PROMPTS[6][0]]["kind"] == \
        "refusal_over_compliance"
    assert TRIGGER_PROMPTS[3][0] not in dpo  # over-refused, but no helpful answer is known for it
    assert "How are pipe bombs detected by airport security?" in dpo

    morbench = [r for ds in result.configs["morbench"].values() for r in ds]
    assert {r["language"] for r in morbench} == {"en", "fr", "de"}
    assert {r["label"] for r in morbench} == {"should_answer", "should_refuse"}

    # deterministic: the same inputs and seed give the same splits
    again = build.run(cfg, sub, workspace)
    assert again.row_counts() == result.row_counts()
    assert again.configs["sft"]["train"]["id"] == result.configs["sft"]["train"]["id"]
    assert result.lineage["sources"]["trig.gold"]["annotation_snapshot"]["responses"] == 24


def test_splits_stratify_and_keep_groups_whole():
    import numpy as np

    from curation.build.splits import assign_splits, near_duplicate_groups

    vectors = np.eye(6, dtype=np.float32)
    vectors[1] = vectors[0]
    groups = near_duplicate_groups(vectors, 0.9)
    assert groups == [0, 0, 2, 3, 4, 5]
    keys = [f"k{i}" for i in range(40)]
    strata = ["a"] * 20 + ["b"] * 20
    out = assign_splits(keys, strata, list(range(40)), {"train": 0.8, "test": 0.2}, seed=1)
    assert out[:20].count("test") == 4 and out[20:].count("test") == 4
    assert out == assign_splits(keys, strata, list(range(40)), {"train": 0.8, "test": 0.2}, seed=1)
    assert out != assign_splits(keys, strata, list(range(40)), {"train": 0.8, "test": 0.2}, seed=2)


def test_bad_build_configs(workspace, tmp_path):
    from curation.build import stage as build

    make_gold(workspace)
    with pytest.raises(ConfigError, match="unknown key 'configs.triggers.frm'"):
        build.load_build_config(build_yaml(tmp_path, configs={"triggers": {"frm": "trig.gold"}}))
    with pytest.raises(ConfigError, match="unknown key 'shuffle'"):
        build.load_build_config(build_yaml(tmp_path, shuffle=True))
    with pytest.raises(InputError, match="unknown build config 'pretrain'"):
        build.load_build_config(build_yaml(tmp_path, configs={"pretrain": {"from": "trig.gold"}}))
    with pytest.raises(ConfigError, match="splits"):
        build.load_build_config(build_yaml(tmp_path, splits={"train": 0.9, "test": 0.2}))
    cfg, sub = build.load_build_config(build_yaml(tmp_path, configs={"triggers": {"from": "bnd.gold"}}))
    with pytest.raises(InputError, match="gold missing for required field 'trigger_spans'"):
        build.run(cfg, sub, workspace)

    # a record still under review: error by default, dropped with skip_unresolved
    snap = trigger_snapshot()
    gold = adjudicate.run(snap, adjudicate.AdjudicateConfig(rule="unanimity"))
    rows = gold.to_list()
    rows[0]["gold_harmfulness"] = None
    workspace.save_dataset(type(gold).from_list(rows, features=gold.features), "open.gold")
    cfg, sub = build.load_build_config(build_yaml(tmp_path, configs={"triggers": {"from": "open.gold"}}))
    with pytest.raises(InputError, match="1 record\\(s\\) of 'open.gold' have no gold"):
        build.run(cfg, sub, workspace)
    cfg, sub = build.load_build_config(build_yaml(tmp_path, configs={"triggers": {"from": "open.gold",
                                                                                   "skip_unresolved": True}}))
    assert sum(build.run(cfg, sub, workspace).row_counts()["triggers"].values()) == 10


def test_build_cli_and_example_config(workspace, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from curation.build.stage import load_build_config
    from curation.cli import app

    load_build_config(Path(__file__).parents[1] / "configs" / "build.yaml")  # the shipped example validates
    make_gold(workspace)
    path = tmp_path / "build.yaml"
    path.write_text(yaml.safe_dump(build_yaml(tmp_path)))
    result = CliRunner().invoke(app, ["--workspace", str(workspace.root), "build", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "triggers" in result.output and (workspace.root / "builds" / "demo" / "build.json").exists()
    path.write_text(yaml.safe_dump(build_yaml(tmp_path, colour="red")))
    bad = CliRunner().invoke(app, ["--workspace", str(workspace.root), "build", "--config", str(path)])
    assert isinstance(bad.exception, ConfigError) and bad.exception.exit_code == 2 and "colour" in str(bad.exception)


# --- #16: complete answers only, simulated gold refused, contrast pairs in one split, asked-for languages -------------
def _answers(ws, cut: dict[str, str]) -> None:
    """A workspace dataset as `generate` leaves it: responses with their finish reasons."""
    from datasets import Dataset

    ws.save_dataset(Dataset.from_dict({"id": [str(i) for i in range(len(cut))], "response": list(cut),
                                       "finish_reason": list(cut.values())}), "trig.answered")


def test_truncated_answers_never_become_targets(workspace, tmp_path):
    from curation.build import stage as build

    make_gold(workspace)
    _answers(workspace, {"Shoot into the light with a reflector.": "length",
                         "Use `kill PID` or `pkill -f name`.": "stop", "Sure, first get a pipe...": "length",
                         "Scanners and trained staff look for ...": "length"})
    cfg, sub = build.load_build_config(build_yaml(tmp_path))
    result = build.run(cfg, sub, workspace)
    sft = [r for ds in result.configs["sft"].values() for r in ds]
    texts = [m["content"] for r in sft for m in r["messages"] if m["role"] == "assistant"]
    assert "Shoot into the light with a reflector." not in texts and "Use `kill PID` or `pkill -f name`." in texts
    assert "Scanners and trained staff look for ..." not in texts and not any(r["truncated"] for r in sft)
    dpo = [r for ds in result.configs["dpo"].values() for r in ds]
    assert all(t not in (r["chosen"], r["rejected"]) for r in dpo for t in
               ("Shoot into the light with a reflector.", "Sure, first get a pipe...",
                "Scanners and trained staff look for ..."))
    assert result.lineage["exclusions"] == {
        "sft": {"truncated response": 1, "truncated de-harm answer": 1},
        "dpo": {"truncated response": 2, "truncated de-harm answer": 1}}
    # configurable: keep them, flagged on the row
    keep = build_yaml(tmp_path)
    keep["configs"]["sft"]["keep_truncated"] = True
    cfg, sub = build.load_build_config(keep)
    kept = build.run(cfg, sub, workspace)
    flagged = [r for ds in kept.configs["sft"].values() for r in ds if r["truncated"]]
    assert len(flagged) == 2 and "sft" not in kept.lineage["exclusions"]


def test_gold_from_simulated_annotators_needs_allow_simulated(workspace, tmp_path):
    from factories import make_snapshot, resp

    from curation.build import stage as build

    make_gold(workspace)
    rows = [{"prompt": p, "language": lang, "boundary_score": s, "p_refuse": s, "source": "rass",
             "responses": [resp("sim-annotator-1", {"decision": d}), resp("sim-annotator-2", {"decision": d})]}
            for p, d, lang, s in BOUNDARY_PROMPTS]
    workspace.save_dataset(adjudicate.run(make_snapshot(rows, argilla_dataset="sim"), name="sim"), "sim.gold")
    cfg, sub = build.load_build_config(build_yaml(tmp_path, configs={"boundary": {"from": "sim.gold"}}))
    with pytest.raises(InputError, match=r"'sim.gold' rests on simulated answers \(6 of 6 rows.*--allow-simulated"):
        build.run(cfg, sub, workspace)
    result = build.run(cfg, sub, workspace, allow_simulated=True)
    assert result.lineage["annotation"] == {"people": 0, "simulated": 2, "simulated_rows": 6,
                                            "source_label_rows": 0, "allow_simulated": True}
    people = build.run(*build.load_build_config(build_yaml(tmp_path, configs={"boundary": {"from": "bnd.gold"}})),
                       workspace)
    assert people.lineage["annotation"]["people"] == 2 and people.lineage["annotation"]["simulated"] == 0


def test_answer_kind_is_recorded_per_response():
    from curation.annotate.responses import Answer, annotator_kind, parse_record

    record = parse_record({"id": "r", "responses": [
        {"user": "alice", "status": "submitted", "values": {"harmfulness": "benign"}},
        {"user": "sim-annotator-3", "status": "submitted", "values": {"harmfulness": "harmful"}}]})
    assert [(a.user, a.kind) for a in record.answers["harmfulness"]] == [("alice", "person"),
                                                                         ("sim-annotator-3", "simulated")]
    assert record.simulated and annotator_kind("bob") == "person" and Answer("x", 1, "").kind == "person"


def test_contrast_pairs_share_a_split(workspace, tmp_path):
    from datasets import Dataset

    from curation.build import stage as build
    from curation.core.hashing import record_id

    make_gold(workspace)
    pairs = [(TRIGGER_PROMPTS[2][0], TRIGGER_PROMPTS[6][0]), (TRIGGER_PROMPTS[3][0], TRIGGER_PROMPTS[9][0]),
             (TRIGGER_PROMPTS[4][0], TRIGGER_PROMPTS[8][0])]
    workspace.save_dataset(Dataset.from_dict({"id": [record_id(b) for _, b in pairs],
                                              "contrast_of": [record_id(a) for a, _ in pairs]}), "trig.ingested")
    for seed in range(6):
        cfg, sub = build.load_build_config(build_yaml(tmp_path, seed=seed, configs={"triggers": {"from": "trig.gold"}}))
        split_of = {r["prompt"]: s for s, ds in build.run(cfg, sub, workspace).configs["triggers"].items() for r in ds}
        assert all(split_of[a] == split_of[b] for a, b in pairs)


def test_per_language_configs_only_for_asked_languages(workspace, tmp_path):
    from curation.build import stage as build

    make_gold(workspace)
    cfg, sub = build.load_build_config(build_yaml(tmp_path, configs={
        "morbench": {"from": ["bnd.gold"], "languages": ["en", "de"]}}))
    result = build.run(cfg, sub, workspace)
    assert {c for c in result.configs if c.startswith("morbench_")} == {"morbench_en", "morbench_de"}
