"""Every notebook under notebooks/ runs top to bottom with nbclient against the local stack, on small data, and is
committed with its outputs stripped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ALL_NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
OFFLINE = {"05_refusal_tradeoff"}  # reads committed results only: runs without the Argilla stack
NOTEBOOKS = [p for p in ALL_NOTEBOOKS if p.stem not in OFFLINE]


def test_there_are_five_numbered_notebooks():
    assert [p.stem[:2] for p in ALL_NOTEBOOKS] == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: strip the outputs"


@pytest.fixture(scope="module")
def notebook_env(argilla_stack, tmp_path_factory):
    """The environment notebooks read: the test server and a temp workspace shared by the four notebooks."""
    env = {"ARGILLA_API_URL": argilla_stack.api_url, "ARGILLA_API_KEY": argilla_stack.api_key,
           "CURATE_WORKSPACE": str(tmp_path_factory.mktemp("notebooks") / "ws"), "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _execute(path: Path, tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
@pytest.mark.server
def test_notebook_executes(path, notebook_env, tmp_path):
    _execute(path, tmp_path)


@pytest.mark.parametrize("path", [p for p in ALL_NOTEBOOKS if p.stem in OFFLINE], ids=lambda p: p.stem)
def test_offline_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    _execute(path, tmp_path)
