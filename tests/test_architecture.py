"""The package's imports point one way: no module of `emulator/` imports itself back through
others (imports under `TYPE_CHECKING` and inside functions count), and the layers keep their
promises: the engine never reaches the backend or HTTP, adapters never the facade."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "emulator"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(name: str) -> set[str]:
    """The package modules `name` imports, wherever the import statement is."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            # `from pkg import module` imports the module; any other name comes from pkg itself.
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in MODULES else target)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: imports(name) for name in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it (first repeated last), or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for target in sorted(graph[module]):
            cycle = visit(target, [*path, module])
            if cycle is not None:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle is not None:
            return cycle
    return None


def test_the_checker_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_checker_reads_relative_and_type_checking_imports() -> None:
    assert "emulator.backend" in GRAPH["emulator.http.pipeline"]
    assert "emulator.wire.objects" in GRAPH["emulator.engine.runs"]  # `from ..wire import objects`


def test_no_import_cycle_in_the_package() -> None:
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH) or [])


def reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in GRAPH[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("emulator.wire", ("emulator.state", "emulator.engine", "emulator.backend")),
        ("emulator.engine", ("emulator.backend", "emulator.http", "emulator.adapters")),
        ("emulator.backend", ("emulator.http", "emulator.adapters", "emulator.emulator")),
        ("emulator.adapters", ("emulator.emulator",)),
    ],
)
def test_layers_import_downwards(layer: str, forbidden: tuple[str, ...]) -> None:
    for module in (m for m in MODULES if m == layer or m.startswith(layer + ".")):
        wrong = sorted(m for m in reachable(module) if m.startswith(forbidden))
        assert wrong == [], f"{module} reaches {wrong}"
