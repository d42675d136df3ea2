"""The layout rules of `curation/` (docs/architecture.md), checked by reading the source with `ast`: Argilla and raw
REST only in `annotate/` and `server/`, no private names imported across packages, no import cycles between the
top-level packages, `triggers` and `boundary` independent, and `core`/`models` below every stage."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "curation"
ARGILLA_HOMES = {"annotate", "server"}  # the only packages that talk to Argilla
HTTPX_ALLOWED = {"publish/push_to_hub.py"}  # Hugging Face Hub errors are httpx errors; no Argilla there
STAGES = {"ingest", "generate", "judge", "triggers", "boundary", "translate", "annotate", "qa", "adjudicate", "deharm",
          "build", "publish", "active_learning", "evaluate", "finetune"}
FOUNDATIONS = {"core", "models"}  # shared plumbing and models: imported by stages, never importing one


def sources() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def package_of(path: Path) -> str:
    """Top-level package of a file under curation/ (`curation/demo.py` is its own, `demo`)."""
    parts = path.relative_to(ROOT).parts
    return parts[0].removesuffix(".py") if len(parts) > 1 or parts[0] != "__init__.py" else ""


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["curation", *parts])


def resolve(node: ast.ImportFrom, path: Path) -> str:
    """The absolute module of a `from ... import` (relative imports resolved against the file's package)."""
    if not node.level:
        return node.module or ""
    base = module_of(path).split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports(path: Path) -> Iterator[tuple[ast.AST, str, list[str]]]:
    """(node, imported module, imported names) for every import of a file, function-level ones included."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            yield node, resolve(node, path), [a.name for a in node.names]


def top_package(module: str) -> str | None:
    """`curation.<pkg>` of an imported module, or None outside curation."""
    parts = module.split(".")
    return parts[1] if parts[0] == "curation" and len(parts) > 1 else None


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT.parent)}:{getattr(node, 'lineno', '?')}"


def test_argilla_and_raw_rest_only_in_annotate_and_server():
    bad = []
    for path in sources():
        if package_of(path) in ARGILLA_HOMES:
            continue
        rel = path.relative_to(ROOT).as_posix()
        for node, module, names in imports(path):
            root = module.split(".")[0]
            if root == "argilla" or (root == "httpx" and rel not in HTTPX_ALLOWED):
                bad.append(f"{where(path, node)} imports {root}")
            if "raw_request" in names:
                bad.append(f"{where(path, node)} imports raw_request")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("raw_request", "http_client"):
                bad.append(f"{where(path, node)} uses .{node.attr}")
    assert not bad, "Argilla I/O belongs in curation/annotate (public functions there):\n" + "\n".join(bad)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_private_names_imported_across_packages():
    bad = []
    for path in sources():
        own = package_of(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        foreign_modules: set[str] = set()  # local names bound to another package's module
        for node, module, _ in imports(path):
            pkg = top_package(module)
            if pkg is None or pkg == own:
                continue
            if any(_private(part) for part in module.split(".")):
                bad.append(f"{where(path, node)} imports private module {module}")
            for alias in getattr(node, "names", []):
                if _private(alias.name):
                    bad.append(f"{where(path, node)} imports {module}.{alias.name}")
                elif isinstance(node, ast.ImportFrom) or alias.asname:
                    foreign_modules.add(alias.asname or alias.name)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name)
                    and node.value.id in foreign_modules):
                bad.append(f"{where(path, node)} uses {node.value.id}.{node.attr} of another package")
    assert not bad, "private names are private to their package; make them public or move the caller:\n" + \
        "\n".join(bad)


def package_graph() -> dict[str, set[str]]:
    """Top-level package -> the top-level packages it imports (anywhere in its files)."""
    graph: dict[str, set[str]] = {}
    for path in sources():
        own = package_of(path)
        if not own:
            continue
        deps = graph.setdefault(own, set())
        for _, module, names in imports(path):
            pkg = top_package(module)
            if pkg is None and module == "curation":  # `from curation import x`
                deps.update(n for n in names if (ROOT / n).is_dir() or (ROOT / f"{n}.py").is_file())
            elif pkg and pkg != own:
                deps.add(pkg)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_no_import_cycles_between_packages():
    found = cycles(package_graph())
    assert not found, f"import cycles between packages: {found}"


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize(("low", "high"), [("triggers", "boundary"), ("boundary", "triggers")])
def test_triggers_and_boundary_are_independent(low, high):
    assert high not in package_graph().get(low, set()), f"{low} imports {high}: share it through curation.models"


@pytest.mark.parametrize("foundation", sorted(FOUNDATIONS))
def test_core_and_models_import_no_stage(foundation):
    above = package_graph().get(foundation, set()) - FOUNDATIONS
    assert not above, f"curation.{foundation} imports {sorted(above)}: stages build on it, not the other way"
