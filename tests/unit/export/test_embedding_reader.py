"""The exports read by clip-retrieval's own reader, the real ``embedding-reader`` package.

embedding-reader is what autofaiss and clip-retrieval's tools read embedding folders with. It
pins ``pandas<3``, which MedSearch's environment does not hold, so it is installed with
``--no-deps`` into a virtual environment made here over this run's libraries
(:mod:`tests.support.child_venv`), and run there; the test environment is left as it was. It
needs the package index; where that is out of reach the test is skipped, saying so.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexer.export import export_index
from tests.support.child_venv import make_child_venv
from tests.unit.export.readback import stored

EMBEDDING_READER = "embedding-reader==1.8.1"

#: run in the child: read both layouts as autofaiss does, save what was read
READ_BOTH = """
import json, sys
import numpy as np
from embedding_reader import EmbeddingReader

clip, parquet, out = sys.argv[1:]
found = {}
for name, reader in {
    "clip-retrieval": EmbeddingReader(
        clip + "/img_emb", file_format="parquet_npy", metadata_folder=clip + "/metadata",
        meta_columns=["id", "image_path"],
    ),
    "parquet": EmbeddingReader(
        parquet, file_format="parquet", embedding_column="embedding",
        meta_columns=["id", "image_path"],
    ),
}.items():
    batches = list(reader(batch_size=1000, show_progress=False))
    np.save(f"{out}/{name}.npy", np.concatenate([emb for emb, _ in batches]))
    found[name] = {
        "count": int(reader.count), "dimension": int(reader.dimension),
        "ids": [int(i) for _, meta in batches for i in meta["id"]],
        "paths": [p for _, meta in batches for p in meta["image_path"]],
    }
print(json.dumps(found))
"""


@pytest.mark.slow
def test_embedding_reader_reads_both_layouts(generated_index: Path, tmp_path: Path) -> None:
    export_index(generated_index, tmp_path / "clip", part_rows=700)  # five parts
    export_index(generated_index, tmp_path / "parquet" / "all.parquet", "parquet")
    child = make_child_venv(tmp_path / "venv")
    installed = child.pip_install(EMBEDDING_READER, cwd=tmp_path)
    if installed.returncode != 0:
        pytest.skip(f"{EMBEDDING_READER} cannot be installed here: {installed.stderr[-500:]}")
    script = tmp_path / "read_both.py"
    script.write_text(READ_BOTH)
    output = child.run(
        child.python, script, tmp_path / "clip", tmp_path / "parquet", tmp_path, cwd=tmp_path
    )
    found = json.loads(output.strip().splitlines()[-1])
    records, table = stored(generated_index)
    ids = sorted(records)
    for name in ("clip-retrieval", "parquet"):
        assert found[name]["count"] == len(ids) and found[name]["dimension"] == table.shape[1]
        assert found[name]["ids"] == ids
        assert found[name]["paths"] == [records[i].path for i in ids]
        read = np.load(tmp_path / f"{name}.npy")
        assert np.array_equal(read, table[np.array(ids) - 1].astype(np.float32))
