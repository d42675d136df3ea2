"""Bad input across the CLI: each case runs the real `curate` entry point and checks the exact one-line message
and exit code; the same table is `docs/bad-inputs.md`, so the documentation cannot drift.

Update the document after changing a message: `UPDATE_BAD_INPUTS=1 .venv/bin/pytest tests/test_bad_inputs.py`.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-inputs.md"
UPDATE_ENV = "UPDATE_BAD_INPUTS"


@dataclass(frozen=True)
class BadInput:
    """One bad invocation: what the user types, the exit code and the last stderr line they see."""

    what: str
    args: str
    code: int
    message: str  # {judges}, {proposers}, {scorers}: the names registered now (plug-ins come and go)

    def expected(self) -> str:
        from curation.core import registry

        known = {kind: ", ".join(sorted(getattr(registry, kind).get_all())) for kind in
                 ("judges", "proposers", "scorers")}
        return self.message.format(**known) if "{" in self.message else self.message


CASES = [
    # ingest
    BadInput("missing file", "ingest missing.jsonl --name p", 2,
             "error: file not found: missing.jsonl (check the path)"),
    BadInput("malformed JSON lines", "ingest broken.jsonl --name q", 2,
             "error: broken.jsonl: line 2 is not a JSON object (fix or remove that line, or pass --skip-bad-lines "
             "to skip malformed lines)"),
    BadInput("empty file", "ingest empty.jsonl --name q", 2,
             "error: empty.jsonl is empty (give a file with a header or at least one row)"),
    BadInput("no prompt column", "ingest no_prompt.csv --name q", 2,
             "error: no_prompt.csv: no prompt column found; columns found: foo, bar (pass --prompt-col NAME)"),
    BadInput("not UTF-8", "ingest latin1.csv --name q --no-near-dedupe", 2,
             "error: latin1.csv: line 2 is not valid UTF-8 (byte 0xe9 at column 4) "
             "(re-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`)"),
    BadInput("unsupported file type", "ingest data.xlsx --name q", 2,
             "error: unsupported file type '.xlsx' for data.xlsx (use one of .csv, .json, .jsonl, .parquet, .tsv, "
             "a save_to_disk folder, or a Hub id)"),
    BadInput("unknown prompt column", "ingest ok.jsonl --name q --prompt-col nope", 2,
             "error: ok.jsonl: no column 'nope' for prompt; columns found: prompt, label "
             "(pass --prompt-col with one of them)"),
    BadInput("path-like dataset name", "ingest ok.jsonl --name ../x", 2,
             "error: invalid dataset name '../x' (use letters, digits, '-', '_' and '.')"),
    BadInput("threshold out of range", "ingest ok.jsonl --name q --threshold 2", 2,
             "error: IngestConfig options: invalid value for 'near_threshold' 2.0: Input should be less than or "
             "equal to 1 "
             "(fix the option or config value; see the command's --help)"),
    BadInput("negative length limit", "ingest ok.jsonl --name q --max-chars -1", 2,
             "error: IngestConfig options: invalid value for 'max_chars' -1: Input should be greater than or "
             "equal to 1 "
             "(fix the option or config value; see the command's --help)"),
    BadInput("missing required option", "ingest ok.jsonl", 2, "Error: Missing option '--name' / '-n'."),
    BadInput("unusable workspace", "--workspace /proc/1/no-such-dir ls", 1,
             "error: cannot create workspace folder /proc/1/no-such-dir: No such file or directory "
             "(check the disk and permissions, or pass --workspace)"),
    BadInput("unknown command", "frobnicate", 2, "Error: No such command 'frobnicate'."),
    # probe, generate, judge
    BadInput("probe source missing", "probe fit --harmful missing.jsonl --harmless ok.jsonl", 2,
             "error: file not found: missing.jsonl (check the path)"),
    BadInput("unknown dataset", "generate nosuch", 2,
             "error: no dataset named 'nosuch' in workspace <tmp>/.curate (known: p; create one with "
             "`curate ingest SOURCE --name nosuch`)"),
    BadInput("unknown judge", "judge p --judge nosuch", 2,
             "error: unknown judge 'nosuch' (known judges: {judges})"),
    BadInput("judge option not KEY=VALUE", "judge p --option notkeyvalue", 2,
             "error: --option expects KEY=VALUE, got 'notkeyvalue' (e.g. --option LABEL_1=full_refusal)"),
    # triggers, boundary
    BadInput("unknown proposer", "triggers run p --proposer bogus", 2,
             "error: unknown trigger proposer 'bogus' (known trigger proposers: {proposers})"),
    BadInput("top-k below 1", "triggers run p --top-k 0", 2,
             "error: triggers options: invalid value for 'top_k' 0: Input should be greater than or equal to 1 "
             "(fix the flag or the config file)"),
    BadInput("unknown boundary scorer", "boundary score p --scorer bogus", 2,
             "error: unknown boundary scorer 'bogus' (known boundary scorers: {scorers})"),
    BadInput("zero budget", "boundary select p --budget 0", 2,
             "error: SelectConfig options: invalid value for 'budget' 0: Input should be greater than or equal to 1 "
             "(fix the option or config value; see the command's --help)"),
    # qa, adjudicate
    BadInput("not a snapshot", "qa p", 2,
             "error: 'p' is not an annotation snapshot: missing column(s) responses (pull it with "
             "`curate annotate pull NAME`; columns found: id, prompt, label)"),
    BadInput("IoU of zero", "qa p --iou 0", 2,
             "error: QAConfig options: invalid value for 'iou_threshold' 0.0: Input should be greater than 0 "
             "(fix the option or config value; see the command's --help)"),
    BadInput("adjudicate a non-snapshot", "adjudicate run p", 2,
             "error: 'p' is not an annotation snapshot: missing column(s) responses (pull it with "
             "`curate annotate pull NAME`; columns found: id, prompt, label)"),
    # build, version, publish
    BadInput("build config missing", "build --config missing.yaml", 2,
             "error: config file missing.yaml not found (pass an existing YAML file, e.g. configs/build.yaml)"),
    BadInput("build config not YAML", "build --config not_yaml.yaml", 2,
             "error: not_yaml.yaml is not valid YAML: while parsing a flow sequence (fix the YAML syntax)"),
    BadInput("build config misspelt key", "build --config typo.yaml", 2,
             "error: typo.yaml: unknown key 'sead' (remove it or fix its spelling)"),
    BadInput("build config is a list", "build --config list.yaml", 2,
             "error: list.yaml must hold a mapping at the top level (write `key: value` lines)"),
    BadInput("unknown build", "version create nobuild", 2,
             "error: no build named 'nobuild' in <tmp>/.curate (known: none; run `curate build --config build.yaml`)"),
    BadInput("unknown version", "version show 9.9.9", 2,
             "error: no version 9.9.9 in <tmp>/.curate (known versions: none; create one with "
             "`curate version create BUILD`)"),
    BadInput("diff of unknown versions", "version diff 1.0.0 2.0.0", 2,
             "error: no version 1.0.0 in <tmp>/.curate (known versions: none; create one with "
             "`curate version create BUILD`)"),
    BadInput("publish without a token", "push-to-hub 9.9.9 me/repo", 2,
             "error: no Hugging Face token found (set HF_TOKEN or run `hf auth login` (or use --dry-run))"),
    BadInput("dry run of an unknown version", "push-to-hub 9.9.9 me/repo --dry-run", 2,
             "error: no version 9.9.9 in <tmp>/.curate (known versions: none; create one with "
             "`curate version create BUILD`)"),
    # Argilla: annotate, users, server
    BadInput("push an unknown dataset", "annotate push nosuch --to x", 2,
             "error: no dataset named 'nosuch' in workspace <tmp>/.curate (known: p; create one with "
             "`curate ingest SOURCE --name nosuch`)"),
    BadInput("no server configured", "annotate pull x", 3,
             "error: no Argilla server configured for workspace <tmp>/.curate (run `curate server start`, or pass "
             "--api-url/--api-key (or set ARGILLA_API_URL/ARGILLA_API_KEY))"),
    BadInput("server not reachable", "users list --api-url http://127.0.0.1:9 --api-key k", 3,
             "error: Argilla is not reachable at http://127.0.0.1:9 (ConnectError) (start the local server with "
             "`curate server start` or check --api-url)"),
    BadInput("unknown log part", "server logs bogus", 2,
             "error: unknown part 'bogus' (use one of: redis, search, server, worker, init)"),
    BadInput("credentials before the first start", "server credentials", 2,
             "error: the local stack has no credentials yet (run `curate server start` first)"),
    BadInput("reindex with the stack down", "server reindex", 3,
             "error: cannot rebuild the search index: redis and search of the local stack not running "
             "(run `curate server start` first)"),
    BadInput("port out of range", "server start --port 70000", 2,
             "error: StackConfig options: invalid value for 'port' 70000: Input should be less than or equal to 65535 "
             "(fix the option or config value; see the command's --help)"),
    BadInput("zero workers", "server start --workers 0", 2,
             "error: StackConfig options: invalid value for 'num_workers' 0: Input should be greater than or "
             "equal to 1 "
             "(fix the option or config value; see the command's --help)"),
]


def _write_inputs(root: Path) -> None:
    from datasets import Dataset

    from curation.core.workspace import Workspace

    (root / "ok.jsonl").write_text('{"prompt": "How do I kill a Python process?", "label": "benign"}\n'
                                   '{"prompt": "Write a poem about rain.", "label": "benign"}\n', encoding="utf-8")
    (root / "broken.jsonl").write_text('{"prompt": "fine"}\n{"prompt": \n', encoding="utf-8")
    (root / "empty.jsonl").write_text("")
    (root / "no_prompt.csv").write_text("foo,bar\n1,2\n")
    (root / "latin1.csv").write_bytes("prompt\ncaf\xe9 na\xefve\n".encode("latin-1"))
    (root / "data.xlsx").write_text("not a spreadsheet")
    (root / "not_yaml.yaml").write_text("configs: [1, 2\n")
    (root / "typo.yaml").write_text("version_name: v1\nsead: 3\nconfigs: {}\n")
    (root / "list.yaml").write_text("- 1\n- 2\n")
    Workspace(root / ".curate").save_dataset(
        Dataset.from_dict({"id": ["a"], "prompt": ["hi"], "label": ["benign"]}), "p")


def run_case(case: BadInput, root: Path) -> tuple[int, str]:
    """Run `curate ARGS` in-process through `main()` from `root`; (exit code, last stderr line, paths as <tmp>)."""
    from curation.cli import common, main

    err = io.StringIO()
    common.STATE.workspace, common.STATE.debug = None, False
    argv, cwd = sys.argv, os.getcwd()
    sys.argv = ["curate", *case.args.split(" ")]
    code = 0
    os.chdir(root)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            main()
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    finally:
        sys.argv = argv
        os.chdir(cwd)
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    return code, (lines[-1] if lines else "").replace(str(root), "<tmp>")


def render(results: list[tuple[BadInput, int, str]]) -> str:
    """docs/bad-inputs.md from the cases and what the CLI printed."""
    out = ["# Bad inputs and the errors users see", "",
           "Generated by `tests/test_bad_inputs.py` from the same table it checks (each row runs the real CLI);",
           f"regenerate with `{UPDATE_ENV}=1 .venv/bin/pytest tests/test_bad_inputs.py`. `<tmp>` stands for the",
           "folder the command ran in. Exit codes: 2 bad input or usage, 3 a service is down, 1 anything else.", "",
           "| # | bad input | command | exit | message (stderr) |", "|---:|---|---|---:|---|"]
    for i, (case, code, message) in enumerate(results, 1):
        cell = message.replace("|", "\\|")
        out.append(f"| {i} | {case.what} | `curate {case.args}` | {code} | `{cell}` |")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def inputs_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad_inputs")
    _write_inputs(root)
    return root


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch, tmp_path):
    for name in ("ARGILLA_API_URL", "ARGILLA_API_KEY", "HF_TOKEN", "CURATE_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))


def test_there_are_at_least_30_cases_across_the_commands():
    assert len(CASES) >= 30 and len({c.args for c in CASES}) == len(CASES)
    commands = {c.args.split(" ")[0] for c in CASES}
    assert {"ingest", "judge", "triggers", "boundary", "qa", "adjudicate", "build", "version", "push-to-hub",
            "annotate", "server"} <= commands


def test_every_bad_input_gives_its_exact_one_line_error_and_the_doc_is_current(inputs_dir):
    results, failures = [], []
    for case in CASES:
        code, message = run_case(case, inputs_dir)
        results.append((case, code, message))
        if (code, message) != (case.code, case.expected()):
            failures.append(f"curate {case.args}: expected {case.code} {case.expected()!r}, got {code} {message!r}")
    assert not failures, "\n".join(failures)
    text = render(results)
    if os.environ.get(UPDATE_ENV):
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
    assert DOC.exists() and DOC.read_text(encoding="utf-8") == text, (
        f"{DOC} is out of date: run `{UPDATE_ENV}=1 .venv/bin/pytest tests/test_bad_inputs.py`")
    for _case, _code, message in results:  # CurationErrors are one line, and never a traceback
        assert "Traceback" not in message and "\n" not in message
