"""The checks package: one module per lesson, re-exported, importing no presentation module."""

from __future__ import annotations

import ast
from pathlib import Path

from srgan_edu import checks

PACKAGE = Path(checks.__file__).parent


def _modules():
    return sorted(PACKAGE.glob("*.py"))


def test_one_module_per_lesson_each_under_about_600_lines():
    names = {path.stem for path in _modules()}
    assert {f"lesson0{n}" for n in range(1, 8)} <= names
    for path in _modules():
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 620, path.name


def test_checks_import_no_presentation_module_and_nothing_inside_functions():
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            else:
                continue
            assert not any(name.split(".")[1:2] in (["viz"], ["widgets"]) for name in imported
                           if name.startswith("srgan_edu")), f"{path.name} imports {imported}"
            if any(name.startswith("srgan_edu") for name in imported):
                assert id(node) in top_level, f"{path.name}:{node.lineno} imports srgan_edu inside a function"


def test_every_check_and_the_hint_ladder_are_reexported():
    for path in _modules():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("check_"):
                assert getattr(checks, node.name).__module__ == f"srgan_edu.checks.{path.stem}"
    assert callable(checks.hint) and checks.HINTS
