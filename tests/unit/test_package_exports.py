"""The public names of ``indexer``: light to import, typed for checkers, lazy at run time."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import indexer
from tests.support.helpers import modules_loaded_by


def test_import_indexer_loads_no_heavy_library() -> None:
    assert modules_loaded_by("indexer", ("torch", "faiss", "sqlalchemy")) == []


def test_every_export_is_the_object_of_its_module() -> None:
    for name, module in indexer._EXPORTS.items():
        defined_in = importlib.import_module(module, "indexer")
        assert getattr(indexer, name) is getattr(defined_in, name)


def test_type_checking_imports_match_the_lazy_exports() -> None:
    tree = ast.parse(Path(indexer.__file__).read_text(encoding="utf-8"))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    imported = {
        alias.name: f".{node.module}"
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname == alias.name  # `X as X`: re-exported
    }
    assert imported == indexer._EXPORTS
