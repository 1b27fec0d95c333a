"""The composition root (server/): the REST API and the console on one app, neither importing the other,
and the answers every path gets from the app as a whole (HTTP errors, security headers, body limit)."""

import ast

import pytest

from tests.conftest import REPO


def _imported_packages(package):
    found = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
    return found


@pytest.mark.parametrize("package, never", [("api", {"console", "server"}), ("console", {"api", "server"}),
                                            ("control", {"api", "console"}), ("transforms", {"control", "server"})])
def test_layers_do_not_import_upwards_or_sideways(package, never):
    assert _imported_packages(package) & never == set()
