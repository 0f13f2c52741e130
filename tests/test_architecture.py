"""The package's layers, read from its source with ``ast`` (nothing is imported or run).

The map is the docstring of ``srgan_edu/__init__.py``: each module under one heading
``Layer N, <name>:``. A module imports from its own layer and the layers before it, never
from a later one; no two modules import each other (directly or round a longer circle),
counting the imports inside functions and under ``TYPE_CHECKING`` too, since a circle hidden
inside a function is still a circle; and no concept module (lessons 01-06) imports a
presentation module (figures, widgets, checks). ``docs/architecture.md`` draws the same map.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "srgan_edu"
CONCEPTS = ("srresnet", "discriminator", "losses", "vgg", "metrics", "checkpoints", "images", "degradation")
PRESENTATION = ("viz", "widgets", "checks")


def module_name(path: Path) -> str:
    """``srgan_edu/viz/lesson01.py`` -> ``viz.lesson01``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``path`` imports anywhere in its text (function bodies too)."""
    return imports_in(path.read_text(encoding="utf-8"), module_name(path), modules,
                      is_package=path.name == "__init__.py")


def imports_in(text: str, here: str, modules: dict[str, Path], *, is_package: bool = False) -> set[str]:
    package = here if is_package else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
            targets = [name.removeprefix("srgan_edu.") for name in names if name.startswith("srgan_edu.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from .y import z
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                stem = ".".join(base + ([node.module] if node.module else []))
            elif node.module == "srgan_edu":
                stem = ""
            elif node.module and node.module.startswith("srgan_edu."):
                stem = node.module.removeprefix("srgan_edu.")
            else:
                continue
            # from srgan_edu.viz import lesson01 names a module; from srgan_edu.viz import x a name in viz
            targets = []
            for alias in node.names:
                sub = f"{stem}.{alias.name}" if stem else alias.name
                targets.append(sub if sub in modules else stem)
        else:
            continue
        # "" is the package's face (srgan_edu/__init__.py, which holds __version__ and imports nothing)
        found.update(target for target in targets if target in modules and target not in (here, ""))
    return found


def import_graph() -> dict[str, set[str]]:
    modules = source_modules()
    return {name: imports_of(path, modules) for name, path in modules.items()}


def top(name: str) -> str:
    """The top-level module a (sub)module belongs to: ``viz.lesson01`` -> ``viz``."""
    return name.split(".")[0]


def layer_map() -> dict[str, tuple[int, str]]:
    """module -> (layer number, layer name), as the package docstring states it."""
    docstring = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))) or ""
    layers, current = {}, None
    for line in docstring.splitlines():
        heading = re.match(r"^Layer (\d+), (.+):$", line.strip())
        if heading:
            current = (int(heading.group(1)), heading.group(2))
            continue
        entry = re.match(r"^- ``(\w+)``", line.strip())
        if entry and current is not None:
            assert entry.group(1) not in layers, f"{entry.group(1)} is listed twice in srgan_edu/__init__.py"
            layers[entry.group(1)] = current
    return layers


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan's algorithm)."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def describe(group: list[str], graph: dict[str, set[str]]) -> str:
    edges = [f"{a} -> {b}" for a in group for b in sorted(graph[a]) if b in group]
    return f"{', '.join(group)} ({'; '.join(edges)})"


def test_no_module_imports_itself_round_a_circle():
    graph = import_graph()
    found = circles(graph)
    assert not found, "import circles (function-local imports count): " + " | ".join(describe(g, graph) for g in found)


def test_no_circle_between_top_level_modules_either():
    """viz.lesson07 -> widgets and widgets -> viz.lesson03 is a circle between viz and widgets."""
    graph = import_graph()
    grouped: dict[str, set[str]] = {}
    for name, targets in graph.items():
        grouped.setdefault(top(name), set()).update(top(t) for t in targets if top(t) != top(name))
    found = circles(grouped)
    assert not found, "circles between modules: " + " | ".join(describe(g, grouped) for g in found)


def test_the_package_face_imports_nothing():
    """``import srgan_edu`` stays instant, and ``from srgan_edu import __version__`` can come from anywhere."""
    assert import_graph()[""] == set()


def test_the_layer_map_names_every_module_once():
    layers = layer_map()
    modules = {top(name) for name in source_modules() if name}
    assert sorted(modules - set(layers)) == [], "modules missing from the map in srgan_edu/__init__.py"
    assert sorted(set(layers) - modules) == [], "the map in srgan_edu/__init__.py names modules that do not exist"


def test_no_module_imports_from_a_later_layer():
    layers = layer_map()
    wrong = []
    for name, targets in import_graph().items():
        if not name:
            continue
        mine = layers[top(name)]
        for target in sorted(targets):
            theirs = layers[top(target)]
            if theirs[0] > mine[0]:
                wrong.append(f"{name} (layer {mine[0]}, {mine[1]}) imports {target} (layer {theirs[0]}, {theirs[1]})")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


@pytest.mark.parametrize("concept", CONCEPTS)
def test_a_concept_module_imports_no_presentation_module(concept):
    graph = import_graph()
    assert concept in graph, f"srgan_edu/{concept}.py is gone: update CONCEPTS here and the map"
    shown = sorted(t for t in graph[concept] if top(t) in PRESENTATION)
    assert not shown, f"{concept} imports {shown}: concepts are drawn by viz, never the other way round"


def test_the_concepts_and_presentation_sit_in_the_layers_the_docs_name():
    layers = layer_map()
    assert {layers[name][0] for name in CONCEPTS} == {1}
    assert all(layers[name][0] > layers["training"][0] for name in PRESENTATION)
    drawn = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = sorted(name for name in layers if f"`{name}`" not in drawn)
    assert not missing, f"docs/architecture.md does not place {missing}"


def test_the_parser_sees_function_local_relative_and_type_checking_imports():
    """The checker itself: imports inside a function, relative ones and typing-only ones are all edges."""
    modules = {"training": Path(), "viz": Path(), "widgets": Path(), "mos": Path(), "viz.lesson01": Path(),
               "viz._style": Path()}
    text = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from srgan_edu.mos import MethodScore\n"
            "def f():\n    from srgan_edu import viz\n    from .widgets import x\n")
    assert imports_in(text, "training", modules) == {"viz", "widgets", "mos"}
    assert imports_in("from srgan_edu.viz import lesson01, image_gallery\nfrom . import _style\n",
                      "viz.lesson02", modules) == {"viz.lesson01", "viz", "viz._style"}
    assert imports_in("from .lesson01 import a\n", "viz", modules, is_package=True) == {"viz.lesson01"}
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
