"""The import graph of transforms/ follows the stages: each stage imports only the shared base and runtime.

A newcomer reads the pipeline one floor at a time; an import from a neighbouring stage (a source that
needs a sink, say) would tie two floors together, so this test fails on the first such arrow.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BASE = {"transforms.errors", "transforms.records", "transforms.arrow_text"}
STAGES = ("sources", "shuffle", "formats", "sinks")
# What each floor may import besides itself: the stages sit side by side on runtime and the shared base.
ALLOWED = {**{stage: ("runtime",) for stage in STAGES}, "runtime": ()}


def _imports(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def _floor(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "transforms" and parts[1] in ALLOWED else None


@pytest.mark.parametrize("floor", sorted(ALLOWED))
def test_a_stage_imports_only_itself_runtime_and_the_base(floor):
    arrows = []
    for path in sorted((ROOT / "transforms" / floor).rglob("*.py")):
        for module in _imports(path):
            if not module.startswith("transforms") or module in BASE:
                continue
            target = _floor(module)
            if target != floor and target not in ALLOWED[floor]:
                arrows.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not arrows, "imports across floors:\n" + "\n".join(arrows)


def test_the_installed_product_holds_no_development_tool():
    setup = (ROOT / "setup.py").read_text()
    assert "devtools" not in setup
    for package in ("pipelines", "transforms", "control", "api", "console"):
        for path in (ROOT / package).rglob("*.py"):
            modules = set(_imports(path))
            assert not {m for m in modules if m.split(".")[0] in ("devtools", "moto", "tests")}, path
