"""The layers of the code base, read from its import statements.

Every import counts, at the top of a module, under ``TYPE_CHECKING`` or inside a function: a
cycle among them is a cycle in the design even where Python happens to resolve it at run time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import REPO

PACKAGES = ("indexer", "search_api", "web", "medsearch_bench", "medsearch_client")
#: what each first-party package may import of the others
MAY_IMPORT = {
    "indexer": set(),
    "search_api": {"indexer"},
    "web": set(),
    "medsearch_bench": {"indexer", "search_api"},
    # the client talks to a service over HTTP only, and stays light to import
    "medsearch_client": set(),
}
HEAVY = ("torch", "faiss", "sqlalchemy")
#: the core's packages and what each may import besides the shared vocabulary (the modules at
#: the top of ``indexer/``, which import only each other); storage and ann are one layer, as
#: the ANN index is a file of the index folder
CORE_MAY_IMPORT = {
    "imaging": set(),
    "sources": {"imaging"},
    "encoders": {"imaging"},
    "storage": {"ann"},
    "ann": {"storage"},
    "search": {"ann", "storage", "encoders", "sources", "imaging"},
    "indexing": {"ann", "storage", "encoders", "sources", "imaging"},
    "evaluation": {"ann", "storage", "encoders", "search", "imaging"},
    "export": {"storage"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if "assets" not in path.relative_to(REPO).parts
    }


MODULES = _modules()


def _imported_names(path: Path) -> Iterator[str]:
    """Every dotted name ``path`` imports, relative imports resolved, with the imported names."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names = [f"{module}.{alias.name}" for alias in node.names]
            # ``from package import submodule`` imports the submodule, as ``import a.b`` does
            if not all(name in MODULES for name in names):
                yield module
            yield from names


def _first_party_imports(path: Path) -> set[str]:
    own = _module_name(path)
    return {name for name in _imported_names(path) if name in MODULES and name != own}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules() -> None:
    graph = {name: _first_party_imports(path) for name, path in MODULES.items()}
    assert _cycles(graph) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_import_only_the_layers_below(package: str) -> None:
    allowed = {package, *MAY_IMPORT[package]}
    wrong = {
        f"{name} imports {imported}"
        for name, path in MODULES.items()
        if name.split(".")[0] == package
        for imported in _first_party_imports(path)
        if imported.split(".")[0] not in allowed
    }
    assert not wrong


def test_only_the_core_library_imports_torch_faiss_or_sqlalchemy() -> None:
    wrong = {
        f"{name} imports {imported}"
        for name, path in MODULES.items()
        if not name.startswith("indexer")
        for imported in _imported_names(path)
        if imported.split(".")[0] in HEAVY
    }
    assert not wrong


def _core_layer(module: str) -> str:
    """``vocabulary`` for a module at the top of ``indexer/``, else its package's name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (REPO / "indexer" / parts[1]).is_dir() else "vocabulary"


@pytest.mark.parametrize("layer", ["vocabulary", *CORE_MAY_IMPORT])
def test_core_packages_import_only_the_layers_below(layer: str) -> None:
    facade = {"indexer", "indexer.__main__"}
    allowed = {layer, "vocabulary", *CORE_MAY_IMPORT.get(layer, set())}
    wrong = {
        f"{name} imports {imported}"
        for name, path in MODULES.items()
        if name.startswith("indexer.") and name not in facade and _core_layer(name) == layer
        for imported in _first_party_imports(path)
        if imported.startswith("indexer.") and _core_layer(imported) not in allowed
    }
    assert not wrong
