"""Versions: immutable, fingerprinted, with lineage; list / show / diff through the library and the CLI."""

from __future__ import annotations

import json

import pytest
from factories import TRIGGER_PROMPTS, build_yaml, make_gold

from curation.core.errors import InputError
from curation.core.hashing import record_id


def _build(workspace, tmp_path, **overrides):
    from curation.build import stage as build

    cfg, sub = build.load_build_config(build_yaml(tmp_path, **overrides))
    result = build.run(cfg, sub, workspace)
    build.save_build(result, workspace)
    return result


def test_create_list_show_diff(workspace, tmp_path):
    from typer.testing import CliRunner

    from curation.cli import app
    from curation.publish import versions as version

    make_gold(workspace)
    configs = {"triggers": {"from": "trig.gold"}, "morbench": {"from": ["bnd.gold"]}}
    first = _build(workspace, tmp_path, configs=configs)
    manifest = version.create_version(workspace, first, "1.0.0")
    folder = workspace.root / "versions" / "1.0.0"
    assert (folder / "triggers" / "train-00000-of-00001.parquet").exists()
    assert manifest["rows"]["triggers"] == {s: len(d) for s, d in first.configs["triggers"].items() if len(d)}
    lineage = manifest["lineage"]
    assert lineage["sources"]["trig.gold"]["annotation_snapshot"] == {
        "dataset": "trig", "pulled_at": "2025-05-02T00:00:00+00:00", "responses": 24}
    assert lineage["stage_configs"]["build"]["seed"] == 7 and lineage["code_version"]["package"]
    assert json.loads((folder / "manifest.json").read_text())["fingerprint"] == manifest["fingerprint"]
    assert not (folder / "manifest.json").stat().st_mode & 0o222  # read-only

    # an existing tag is refused and nothing is touched
    with pytest.raises(InputError, match="version 1.0.0 already exists"):
        version.create_version(workspace, first, "1.0.0")
    with pytest.raises(InputError, match="not a semver tag"):
        version.create_version(workspace, first, "v1")
    # the same content gets the same fingerprint
    same = version.create_version(workspace, first, bump="patch")
    assert same["tag"] == "1.0.1" and same["fingerprint"] == manifest["fingerprint"]
    assert same["same_content_as"] == ["1.0.0"]

    # change one gold label and drop one record, rebuild, diff
    gold = workspace.load_dataset("trig.gold")
    flipped, dropped = record_id(TRIGGER_PROMPTS[4][0]), record_id(TRIGGER_PROMPTS[5][0])
    rows = [dict(r, gold_harmfulness="harmful") if r["id"] == flipped else r for r in gold.to_list()
            if r["id"] != dropped]
    workspace.save_dataset(type(gold).from_list(rows, features=gold.features), "trig.gold")
    second = _build(workspace, tmp_path, configs=configs, version_name="demo2")
    version.create_version(workspace, second)  # next minor
    assert [m["tag"] for m in version.list_versions(workspace)] == ["1.0.0", "1.0.1", "1.1.0"]
    diff = version.diff_versions(workspace, "1.0.0", "1.1.0")
    trig = diff["configs"]["triggers"]
    assert trig["removed"] == [dropped] and trig["added"] == []
    assert trig["label_changes"] == [{"id": flipped, "from": "benign", "to": "harmful"}]
    assert flipped in trig["changed"] and not diff["same_content"]
    assert diff["configs"]["morbench"]["changed"] == []

    ws = ["--workspace", str(workspace.root)]
    runner = CliRunner()
    listed = runner.invoke(app, [*ws, "version", "list"])
    assert listed.exit_code == 0 and "1.1.0" in listed.output
    shown = runner.invoke(app, [*ws, "version", "show", "1.1.0"])
    assert shown.exit_code == 0 and "trig.gold" in shown.output
    diffed = runner.invoke(app, [*ws, "version", "diff", "1.0.0", "1.1.0"])
    assert diffed.exit_code == 0 and "benign -> harmful" in diffed.output
    created = runner.invoke(app, [*ws, "version", "create", "demo", "--tag", "2.0.0"])
    assert created.exit_code == 0, repr(created.exception)
    again = runner.invoke(app, [*ws, "version", "create", "demo", "--tag", "2.0.0"])
    assert isinstance(again.exception, InputError) and "already exists" in str(again.exception)
    missing = runner.invoke(app, [*ws, "version", "show", "9.9.9"])
    assert isinstance(missing.exception, InputError)
    with pytest.raises(InputError, match="has no config 'sft'"):
        version.load_config(workspace, "1.0.0", "sft")
