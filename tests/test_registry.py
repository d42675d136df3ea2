"""The plug-in contract (versioned names, aliases, config models checked before any work), the one config loader
and the one stage fingerprint helper."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict
from typer.testing import CliRunner

import curation.adjudicate.stage  # noqa: F401 - registers every built-in plug-in
import curation.annotate.push  # noqa: F401
import curation.boundary.stage  # noqa: F401
import curation.build.stage  # noqa: F401
import curation.core.engine  # noqa: F401
import curation.ingest.stage  # noqa: F401
import curation.judge.stage  # noqa: F401
import curation.models.onnx_encoder  # noqa: F401
import curation.translate.stage  # noqa: F401
import curation.triggers.stage  # noqa: F401
from curation.core import registry
from curation.core.config import load_model
from curation.core.errors import ConfigError, InputError
from curation.core.hashing import stage_fingerprint

CATALOGUES = ("sources", "judges", "proposers", "scorers", "embedders", "builders", "adjudicators", "engines",
              "translators", "suggesters")


# registry -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", CATALOGUES)
def test_every_entry_is_versioned_with_a_strict_config_model(kind):
    reg = getattr(registry, kind)
    assert isinstance(reg, registry.Registry) and reg.names()
    for name in reg.names():
        assert registry.split_version(name)[1] is not None, name
        model = reg.config_model(name)
        assert issubclass(model, BaseModel) and model.model_config.get("extra") == "forbid", name


def test_unknown_name_lists_the_known_versioned_names():
    with pytest.raises(InputError) as info:
        registry.resolve(registry.proposers, "lexicn")
    assert info.value.message == "unknown trigger proposer 'lexicn'"
    assert info.value.hint == f"known trigger proposers: {', '.join(registry.proposers.names())}"
    assert "lexicon.v1" in info.value.hint and info.value.exit_code == 2


def test_an_unversioned_name_is_an_alias_of_v1():
    assert registry.proposers.canonical("lexicon") == "lexicon.v1"
    assert registry.proposers.get("lexicon") is registry.proposers.get("lexicon.v1")
    assert registry.scorers.canonical("probe") == "probe.v1" and "probe" in registry.scorers
    assert "probe.v2" not in registry.scorers  # only the unversioned name is an alias
    assert registry.suggesters.latest()["trigger_spans"] is registry.suggesters.get("trigger_spans.v1")


def test_old_configs_keep_working_with_unversioned_names():
    from curation.adjudicate.stage import AdjudicateConfig, get_rule
    from curation.boundary.stage import BoundaryConfig
    from curation.core.engine import EngineConfig
    from curation.judge.stage import JudgeConfig, get_judge
    from curation.triggers.stage import TriggersConfig

    assert EngineConfig(engine="local").engine == "local"
    assert get_rule(AdjudicateConfig(rule="majority")).label == "majority"
    assert AdjudicateConfig(rule="trusted_annotator", rule_args={"users": ["a"]}).rule_label == \
        "adjudicator:trusted_annotator.v1"
    assert BoundaryConfig(scorer="direction", layer=3).scorer_options()["layer"] == 3
    assert "layer" not in BoundaryConfig(scorer="probe", layer=3).scorer_options()  # flat options it does not take
    assert JudgeConfig(judge="string_match", options={"opening_chars": 80}).judge_args == {"opening_chars": 80}
    assert get_judge("string_match.v1", opening_chars=80).name
    cfg = TriggersConfig(proposers=["lexicon", "syntactic"], proposer_args={"syntactic.v1": {"content_words": False}})
    assert cfg.args_of("syntactic") == {"content_words": False}


def test_registering_needs_a_version_and_named_arguments():
    reg = registry.Registry("test_only_kind", "test plug-in")
    with pytest.raises(ValueError, match="register 'thing.v1'"):
        reg.register("thing")

    def loose(**kwargs):
        return kwargs

    with pytest.raises(TypeError, match="takes \\*kwargs"):
        reg.register("loose.v1", func=loose)


def test_make_validates_then_passes_only_the_given_arguments():
    reg = registry.Registry("test_only_make", "widget", context=("ctx",))

    @reg.register("widget.v1")
    def make_widget(ctx: str, size: int = 3, colour: str = "red") -> tuple:
        return ctx, size, colour

    assert reg.make("widget", {"size": "4"}, ctx="c") == ("c", 4, "red")  # coerced by the config model
    with pytest.raises(ConfigError) as info:
        reg.make("widget", {"sise": 4}, ctx="c")
    assert str(info.value) == ("widget 'widget': unknown key 'sise' (arguments of widget.v1: size, colour)")

    class Strict(BaseModel):
        model_config = ConfigDict(extra="forbid")
        n: int

    reg.register("counted.v1", func=lambda ctx, n: n, config=Strict)
    with pytest.raises(ConfigError, match="missing required key 'n'"):
        reg.validate_args("counted", {})


def test_bad_plugin_args_fail_when_the_config_is_built(tmp_path):
    from curation.adjudicate.stage import AdjudicateConfig
    from curation.boundary.stage import BoundaryConfig
    from curation.judge.stage import JudgeConfig
    from curation.triggers.stage import TriggersConfig

    with pytest.raises(ConfigError) as info:
        TriggersConfig(proposer_args={"lexicon": {"lexicon_files": ["x.txt"]}})
    assert str(info.value) == ("triggers options: unknown key 'proposer_args.lexicon.lexicon_files' (arguments of "
                               "lexicon.v1: lexicons)")
    with pytest.raises(ConfigError, match="invalid value for 'proposer_args.probe_occlusion.v1.tau' 'high'"):
        TriggersConfig(proposer_args={"probe_occlusion.v1": {"tau": "high"}})
    with pytest.raises(InputError, match="unknown trigger proposer 'bogus'"):
        TriggersConfig(proposers=["lexicon.v1", "bogus"])
    with pytest.raises(ConfigError, match="unknown key 'nme' .*arguments of probe.v1: name, path, device"):
        BoundaryConfig(scorer="probe", scorer_args={"nme": "x"})  # no workspace, no probe: nothing loaded yet
    with pytest.raises(ConfigError, match="missing required key 'rule_args.users'"):
        AdjudicateConfig(rule="trusted_annotator.v1")
    with pytest.raises(ConfigError, match="judge 'classifier': missing required key 'model'"):
        JudgeConfig(judge="classifier")
    with pytest.raises(ConfigError, match="judge 'fitted': unknown key 'colour'"):
        JudgeConfig(judge="fitted:mine", judge_args={"colour": "red"})


def test_bad_proposer_args_in_a_config_file_fail_before_the_dataset_is_read(workspace, tmp_path: Path):
    from curation.cli import app

    config = tmp_path / "triggers.yaml"
    config.write_text("proposer_args:\n  syntactic.v1:\n    content_word: false\n")
    result = CliRunner().invoke(app, ["--workspace", str(workspace.root), "triggers", "no-such-dataset",
                                      "--config", str(config)])
    assert isinstance(result.exception, ConfigError), result.output
    assert str(result.exception) == ("triggers options: unknown key 'proposer_args.syntactic.v1.content_word' "
                                     "(arguments of syntactic.v1: content_words)")


# loader -------------------------------------------------------------------------------------------------------------
class Opts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = 1
    name: str
    nested: dict[str, int] = {}


def test_load_model_from_a_dict_or_a_yaml_file(tmp_path):
    assert load_model({"name": "a"}, Opts) == Opts(name="a")
    path = tmp_path / "opts.yaml"
    path.write_text("name: b\nsize: 2\n")
    assert load_model(path, Opts) == Opts(name="b", size=2)
    assert load_model(str(path), Opts, overrides={"size": 5, "name": None}) == Opts(name="b", size=5)


def test_load_model_names_file_key_and_fix(tmp_path):
    path = tmp_path / "opts.yaml"
    path.write_text("name: b\nnested: {x: 1, y: many}\nsise: 3\n")
    with pytest.raises(ConfigError) as info:
        load_model(path, Opts)
    assert str(info.value) == f"{path}: unknown key 'sise' (remove it or fix its spelling)"  # the typo first
    path.write_text("name: b\nnested: {x: 1, y: many}\n")
    with pytest.raises(ConfigError, match=r"opts.yaml: invalid value for 'nested.y' 'many': .*integer"):
        load_model(path, Opts)
    with pytest.raises(ConfigError, match="stage options: missing required key 'name' \\(add it to the config\\)"):
        load_model({}, Opts, where="stage options")
    with pytest.raises(ConfigError, match="flags: invalid value for 'size' 'x': .* \\(fix the flag size\\)"):
        load_model({"name": "a"}, Opts, where="flags", overrides={"size": "x"}, hint="fix the flag {key}")


def test_load_model_file_errors_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="config file .*missing.yaml not found"):
        load_model(tmp_path / "missing.yaml", Opts)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml is not valid YAML: .*\\(fix the YAML syntax\\)"):
        load_model(bad, Opts)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="my config must hold a mapping at the top level"):
        load_model(bad, Opts, where="my config")


# stage fingerprint --------------------------------------------------------------------------------------------------
def test_stage_fingerprint_ignores_settings_that_cannot_change_the_result():
    base = {"top_k": 3, "device": "cpu", "batch_size": 64, "args": {"x": 1, "batch_size": 8}}
    same = {"top_k": 3, "device": "cuda", "batch_size": 512, "args": {"x": 1, "batch_size": 32}, "num_proc": 4}
    fp = stage_fingerprint("abc", "triggers.v1", base, ["probe-stamp"])
    assert fp == stage_fingerprint("abc", "triggers.v1", same, ["probe-stamp"])
    for other in (stage_fingerprint("abd", "triggers.v1", base, ["probe-stamp"]),
                  stage_fingerprint("abc", "triggers.v2", base, ["probe-stamp"]),
                  stage_fingerprint("abc", "triggers.v1", {**base, "top_k": 4}, ["probe-stamp"]),
                  stage_fingerprint("abc", "triggers.v1", {**base, "args": {"x": 2}}, ["probe-stamp"]),
                  stage_fingerprint("abc", "triggers.v1", base, ["refit-probe"])):
        assert other != fp


def test_stage_fingerprint_takes_a_config_model():
    from curation.triggers.stage import TriggersConfig

    one = stage_fingerprint("abc", "triggers.v1", TriggersConfig(batch_size=8, device="cpu"))
    assert one == stage_fingerprint("abc", "triggers.v1", TriggersConfig(batch_size=512, device="cuda"))
    assert one != stage_fingerprint("abc", "triggers.v1", TriggersConfig(top_k=5))
