"""A read that failed for a passing reason is recorded as unavailable and tried again by the next
scan, while a file that failed for good is left alone until it changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.indexing.stages import Failed, Preparer, scan_stage
from indexer.sources.base import UNAVAILABLE, CorpusFile, PassingReadError
from indexer.storage.schema import FailureState


def pacs_instance(name: str) -> CorpusFile:
    return CorpusFile(Path(name), name, 0, 0.0)  # a PACS instance: size and mtime 0


def test_a_passing_read_failure_is_recorded_as_unavailable() -> None:
    def read(file: CorpusFile) -> bytes:
        if file.relpath == "busy.dcm":
            raise PassingReadError("WADO-RS answered HTTP 503 Service Unavailable")
        raise OSError("WADO-RS answered HTTP 404 Not Found")

    prepare = Preparer(read, np.asarray, 224, 10**8, False, False)
    busy, gone = (prepare(pacs_instance(name), None, set()) for name in ("busy.dcm", "gone.dcm"))
    assert isinstance(busy, Failed) and busy.reason == UNAVAILABLE and "503" in busy.message
    assert isinstance(gone, Failed) and gone.reason == "io_error" and "404" in gone.message


def test_an_unavailable_file_is_scanned_again_and_a_failed_one_is_not() -> None:
    files = [pacs_instance(name) for name in ("busy.dcm", "gone.dcm", "new.dcm")]
    failures = {
        "busy.dcm": FailureState(0, 0.0, UNAVAILABLE),
        "gone.dcm": FailureState(0, 0.0, "io_error"),
    }
    scanned = scan_stage(files, {}, failures)
    assert [f.relpath for f in scanned.todo] == ["busy.dcm", "new.dcm"]
    assert [f.relpath for f in scanned.unchanged_failures] == ["gone.dcm"]
    changed = [CorpusFile(Path("gone.dcm"), "gone.dcm", 10, 1.0)]
    assert [f.relpath for f in scan_stage(changed, {}, failures).todo] == ["gone.dcm"]
