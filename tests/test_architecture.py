"""The layout holds: no import cycles, small domain modules, and import-linter contracts that bite."""

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("batchlab", "jobs", "frontend", "devstack")
MAX_DOMAIN_MODULE_LINES = 300


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative enough for this size)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.find_modules_directly_imported_by(node):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles_even_through_imports_inside_functions():
    # grimp reads every import statement, including those inside functions.
    graph = grimp.build_graph(*PACKAGES)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")):
        graph.add_import(importer=a, imported=b)
    assert _cycles(graph) == [["p.a", "p.b", "p.c"]]


def test_no_domain_module_is_over_300_lines():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in (ROOT / "jobs").rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_DOMAIN_MODULE_LINES} == {}


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("jobs/handlers/echo.py", "from jobs import tables", "Job handlers never import services"),
        ("jobs/api/jobs.py", "import boto3", "The HTTP layer and the pages never touch"),
        ("frontend/views.py", "from jobs.tables import Job", "Only services, selectors and the bootstrap touch"),
        ("jobs/services/recovery/sweep.py", "import devstack.launcher", "Production code never imports the local stand-in"),
    ],
)
def test_import_linter_breaks_on_a_deliberate_violation(tmp_path, module, line, contract):
    for name in PACKAGES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "static", "templates"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lint = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)}
    clean = subprocess.run([*lint, "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stdout[-2000:]
    with open(tmp_path / module, "a") as f:
        f.write(f"\n{line}  # deliberate violation\n")
    broken = subprocess.run([*lint, "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert broken.returncode != 0
    assert contract in broken.stdout and "BROKEN" in broken.stdout
