"""The generated index the export tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.export.generated import GENERATED_DIM, GENERATED_ROWS, write_generated_index


@pytest.fixture(scope="session")
def generated_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:data:`GENERATED_ROWS` rows, every 7th id missing. Read-only for tests."""
    ids = [i for i in range(1, GENERATED_ROWS * 7 // 6 + 2) if i % 7][:GENERATED_ROWS]
    path = tmp_path_factory.mktemp("generated") / "index"
    return write_generated_index(path, ids, GENERATED_DIM)
