"""The one-way import rule: ``installer -> otel_local_exporter <- telemetry_cli``.

Read from the source with ``ast``, so every import counts: ``import x`` and ``from x import y``,
at the top of a module or inside a function, absolute or relative.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("installer", "otel_local_exporter", "telemetry_cli")
FORBIDDEN = {
    "otel_local_exporter": {"installer", "telemetry_cli"},
    "installer": {"telemetry_cli"},
    "telemetry_cli": {"installer"},
}


def imported_packages(source: str, package: str, depth: int) -> list[tuple[int, str]]:
    """(line, top-level package) of every import in ``source``, a module ``depth`` folders
    below the root of ``package``; relative imports are resolved."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.append((node.lineno, (node.module or "").split(".")[0]))
            elif node.level > depth + 1:
                found.append((node.lineno, "<above the package>"))
            else:
                found.append((node.lineno, package))
    return found


def python_files(package: str) -> list[Path]:
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"no Python files in {package}"
    return files


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_run_one_way(package: str) -> None:
    broken = [
        f"{path.relative_to(REPO)}:{line} imports {target}"
        for path in python_files(package)
        for line, target in imported_packages(
            path.read_text(encoding="utf-8"),
            package,
            len(path.relative_to(REPO / package).parts) - 1,
        )
        if target in FORBIDDEN[package] or target == "<above the package>"
    ]
    assert not broken, "\n".join(broken)


def test_the_check_sees_function_local_and_relative_imports() -> None:
    """A positive control: the walk finds the kinds of import a module could hide."""
    source = (
        "import json\n"
        "def f():\n"
        "    import telemetry_cli.cli\n"
        "    from installer import runner\n"
        "    from .. import installer\n"
        "    from . import schema\n"
    )
    targets = [t for _, t in imported_packages(source, "otel_local_exporter", 0)]
    assert targets == [
        "json",
        "telemetry_cli",
        "installer",
        "<above the package>",
        "otel_local_exporter",
    ]
    # One folder down (``installer/steps/x.py``), ``..`` is still inside the package.
    assert imported_packages("from .. import runner\n", "installer", 1) == [(1, "installer")]


def test_every_core_name_the_other_packages_use_is_public_at_the_root() -> None:
    """``installer`` and ``telemetry_cli`` can import everything from ``otel_local_exporter``
    itself: each name they import from one of its modules is also a public name of the root."""
    import otel_local_exporter

    missing = []
    for package in ("installer", "telemetry_cli"):
        for path in python_files(package):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ImportFrom) or node.level:
                    continue
                module = node.module or ""
                if not module.startswith("otel_local_exporter"):
                    continue
                for alias in node.names:
                    submodule = module == "otel_local_exporter" and alias.name in {
                        "attributes",
                        "schema",
                    }
                    if not submodule and alias.name not in otel_local_exporter.__all__:
                        missing.append(f"{path.relative_to(REPO)}: {module}.{alias.name}")
    assert not missing, "\n".join(missing)
