"""The `curate` CLI end to end: ingest, ls, generate, judge; one-line errors and exit codes (2 for input/usage)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curation.cli import app, common, main
from curation.core import columns as C
from curation.core.workspace import Workspace


@pytest.fixture
def cli(tmp_path: Path, monkeypatch):
    """Run `curate ARGS` in-process through `main()` (as the console script does); return the exit code."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CURATE_WORKSPACE", raising=False)

    def invoke(*args: str) -> int:
        common.STATE.workspace, common.STATE.debug = None, False
        monkeypatch.setattr(sys, "argv", ["curate", *args])
        try:
            main()
        except SystemExit as exit_:
            return int(exit_.code or 0)
        return 0

    return invoke


@pytest.fixture
def prompts_file(tmp_path: Path) -> Path:
    rows = [{"prompt": "How do I kill a Python process?", "label": "benign"},
            {"prompt": "how do i kill a python process?", "label": "benign"},
            {"prompt": "Write a story about a dragon.", "label": "benign"},
            {"prompt": "   ", "label": "benign"}]
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_ingest_ls_generate_judge(tmp_path, prompts_file, tiny_lm_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(prompts_file), "--name", "p", "--no-near-dedupe"])
    assert result.exit_code == 0, result.output
    assert "saved 2 rows" in result.output and "(2 dropped rows" in result.output  # the duplicate and the empty one
    result = runner.invoke(app, ["ls"])
    assert result.exit_code == 0 and "p.duplicates" in result.output
    args = ["generate", "p", "--model", str(tiny_lm_path), "--max-new-tokens", "4", "--out", "answers"]
    result = runner.invoke(app, [*args, "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert "answered 1 prompts" in result.output and "1 pending" in result.output
    result = runner.invoke(app, args)  # resumes from 'answers'
    assert "answered 1 prompts" in result.output and "(1 already done, 0 pending;" in result.output
    result = runner.invoke(app, ["judge", "answers"])
    assert result.exit_code == 0, result.output
    ds = Workspace(tmp_path / ".curate").load_dataset("answers")
    assert ds[C.GENERATED_BY] == [str(tiny_lm_path)] * 2 and all(ds[C.JUDGE_LABEL])
    assert set(ds[C.JUDGE_NAME]) == {"zero_shot.v1"}  # the default judge


def test_ls_on_empty_workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["--workspace", str(tmp_path / "empty"), "ls"])
    assert result.exit_code == 0 and "holds no datasets yet" in result.output


def test_input_errors_are_one_line_and_exit_2(cli, capsys, prompts_file):
    assert cli("ingest", "missing.csv", "--name", "x") == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: file not found: missing.csv (check the path)"
    assert cli("ingest", str(prompts_file), "--name", "x", "--prompt-col", "nope") == 2
    err = capsys.readouterr().err
    assert "columns found: prompt, label" in err and len(err.strip().splitlines()) == 1
    assert not Path(".curate/datasets/x").exists()  # a failing stage saves nothing


def test_unknown_judge_lists_known_ones(cli, capsys, prompts_file):
    assert cli("ingest", str(prompts_file), "--name", "p", "--no-near-dedupe") == 0
    capsys.readouterr()
    assert cli("judge", "p", "--judge", "gpt5") == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: unknown judge 'gpt5' (known judges: classifier.v1, fitted.v1, llm.v1, string_match.v1, "
                   "string_match_2023.v1, zero_shot.v1)")


def test_usage_errors_exit_2(cli, capsys):
    assert cli("ingest") == 2
    assert cli("no-such-command") == 2
    assert cli("judge", "missing-dataset") == 2
    assert "no dataset named 'missing-dataset'" in capsys.readouterr().err


def test_unreachable_hub_is_a_service_error(cli, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cli("ingest", "no-such-org/no-such-set", "--name", "x") == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: could not load Hub dataset 'no-such-org/no-such-set': no network or not found")
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_debug_prints_the_traceback(cli, capsys):
    assert cli("--debug", "ingest", "missing.csv", "--name", "x") == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "error: file not found: missing.csv" in err


def test_bad_setting_in_curate_toml(cli, capsys, tmp_path):
    (tmp_path / "curate.toml").write_text("batch_size = -1\n")
    assert cli("ls") == 2
    assert "settings: invalid value for 'batch_size'" in capsys.readouterr().err
