"""The CLI keeps its word (#16): exit codes through the INSTALLED console script, `--version`, `server status` of a
workspace with no server, failed commands leave no empty folders, re-ingest refusal, schema typos before connecting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CURATE = Path(sys.executable).parent / "curate"

pytestmark = pytest.mark.skipif(not CURATE.exists(), reason="the `curate` console script is not installed")


def curate(*args: str, workspace: Path, cwd: Path) -> subprocess.CompletedProcess:
    """Run the installed console script (this checkout first on the path) in a clean environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CURATE_", "ARGILLA_"))}
    env.update(PYTHONPATH=str(REPO), CURATE_WORKSPACE=str(workspace), HF_HUB_OFFLINE="1", NO_COLOR="1",
               COLUMNS="200")
    return subprocess.run([str(CURATE), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def test_version(tmp_path):
    out = curate("--version", workspace=tmp_path / "ws", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("curate (refusal-curation) ")
    assert not (tmp_path / "ws").exists()


def test_server_status_exit_codes(tmp_path):
    ws = tmp_path / "ws"
    out = curate("server", "status", workspace=ws, cwd=tmp_path)
    assert out.returncode == 3 and "no local Argilla stack in workspace" in out.stdout
    assert "http://" not in out.stdout  # not another workspace's URL
    assert not ws.exists()  # the failed command left no empty workspace behind
    # a stack that was started once and is now down: every part down is exit 3, not 0
    (ws / "server").mkdir(parents=True)
    (ws / "server" / "stack.json").write_text(json.dumps({"port": 1}))
    out = curate("server", "status", workspace=ws, cwd=tmp_path)
    assert out.returncode == 3 and "down" in out.stdout and (ws / "server" / "stack.json").exists()


def test_ingest_that_keeps_nothing_and_bad_lines(tmp_path):
    ws = tmp_path / "ws"
    src = tmp_path / "long.jsonl"
    src.write_text("".join(json.dumps({"prompt": "x" * 80}) + "\n" for _ in range(3)))
    out = curate("ingest", str(src), "--name", "p", "--max-chars", "10", "--no-near-dedupe", workspace=ws,
                 cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: ingest kept no row: all 3 prompts are longer than 10 characters (check --prompt-col and the sources, "
        "or raise --max-chars)"]
    assert not ws.exists() or not any(p.is_dir() and not any(p.iterdir()) for p in ws.rglob("*"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "Tell me a joke."}\n{"prompt": oops}\n{"prompt": "Name three fruits."}\n')
    out = curate("ingest", str(bad), "--name", "b", "--no-near-dedupe", workspace=ws, cwd=tmp_path)
    assert out.returncode == 2 and "bad.jsonl: line 2 is not a JSON object" in out.stderr
    assert "Failed to load JSON" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    out = curate("ingest", str(bad), "--name", "b", "--no-near-dedupe", "--skip-bad-lines", workspace=ws, cwd=tmp_path)
    assert out.returncode == 0 and "skipped 1 malformed line(s)" in out.stdout


def test_annotate_push_schema_typo_is_an_input_error_before_connecting(tmp_path):
    out = curate("annotate", "push", "x", "--schema", "trigger_spanz", "--to", "y", "--api-url",
                 "http://127.0.0.1:9", "--api-key", "k", workspace=tmp_path / "ws", cwd=tmp_path)
    assert out.returncode == 2 and "unknown annotation schema 'trigger_spanz'" in out.stderr


def test_reingest_over_later_stage_columns_needs_overwrite(tmp_path):
    from datasets import load_from_disk

    ws = tmp_path / "ws"
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in ("Tell me a joke.", "Name three fruits.")))
    assert curate("ingest", str(src), "--name", "p", "--no-near-dedupe", workspace=ws, cwd=tmp_path).returncode == 0
    folder = ws / "datasets" / "p"
    import shutil

    later = load_from_disk(str(folder)).add_column("judge_label", ["full_compliance"] * 2)  # a later stage's column
    later.save_to_disk(str(tmp_path / "later"))
    shutil.rmtree(folder)
    shutil.copytree(tmp_path / "later", folder)
    out = curate("ingest", str(src), "--name", "p", "--no-near-dedupe", workspace=ws, cwd=tmp_path)
    assert out.returncode == 2 and "already holds columns of later stages (judge_label)" in out.stderr
    assert "judge_label" in load_from_disk(str(folder)).column_names  # untouched
    out = curate("ingest", str(src), "--name", "p", "--no-near-dedupe", "--overwrite", workspace=ws, cwd=tmp_path)
    assert out.returncode == 0 and "judge_label" not in load_from_disk(str(folder)).column_names


def test_help_usage_and_service_down_exit_codes_of_the_installed_script(tmp_path):
    """0 on --help, 2 on a usage error or bad input, 3 when the Argilla server is down; -w after the command works."""
    from curation.server import free_port

    ws = tmp_path / "ws"
    for args in (("--help",), ("ingest", "--help"), ("annotate", "push", "--help")):
        out = curate(*args, workspace=ws, cwd=tmp_path)
        assert out.returncode == 0 and "Usage:" in out.stdout, args
    assert curate("ingest", workspace=ws, cwd=tmp_path).returncode == 2  # missing SOURCES and --name
    assert curate("no-such-command", workspace=ws, cwd=tmp_path).returncode == 2
    missing = curate("ingest", str(tmp_path / "missing.jsonl"), "--name", "x", workspace=ws, cwd=tmp_path)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    down = curate("annotate", "status", "x", "--api-url", f"http://127.0.0.1:{free_port()}", "--api-key", "k",
                  workspace=ws, cwd=tmp_path)
    assert down.returncode == 3 and down.stderr.startswith("error: ") and len(down.stderr.strip().splitlines()) == 1
    other = tmp_path / "other"
    listed = curate("ls", "-w", str(other), workspace=ws, cwd=tmp_path)  # after the command, it wins over the env
    assert listed.returncode == 0 and str(other) in listed.stdout and other.is_dir()


def test_every_command_takes_the_shared_options():
    """-w/--workspace on every command; one spelling for the Argilla workspace (--argilla-workspace), --out and
    --engine wherever they appear."""
    import click
    import typer.main

    from curation.cli import app

    def leaves(cmd: click.Command, path: tuple[str, ...] = ()):
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                yield from leaves(sub, (*path, name))
        else:
            yield " ".join(path), cmd

    for name, cmd in leaves(typer.main.get_command(app)):
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
        assert {"-w", "--workspace"} <= opts, f"`curate {name}` lacks -w/--workspace"
        assert not any(o.startswith("--argilla") and o != "--argilla-workspace" for o in opts), name
        for p in cmd.params:
            if "--out" in getattr(p, "opts", []) and name != "push-to-hub":  # push-to-hub --out: a folder
                assert "-o" in p.opts, f"`curate {name} --out` lacks -o"
