"""The child process of the decoder fuzzer: decodes the files it is given, under a memory limit.

``python -m medsearch_bench.fuzz_worker MEMORY_MB`` caps its own address space at MEMORY_MB more
than it uses once its imports are done, then reads one file path per line on stdin and answers one
JSON line per file on stdout: the outcome of decoding it one of the two ways MedSearch does (a path
ending in ``.upload`` is read and given to :func:`indexer.imaging.decode.decode_image_bytes` as an
upload is, any other is opened by :func:`indexer.imaging.decode.load_image` as the indexer does),
the exception's type and message when one was raised, and the seconds taken. A crash or a hang ends
or stalls this process, which is what the parent watches for.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from indexer.errors import UnreadableImageError
from indexer.imaging.decode import decode_image_bytes, load_image

#: what one file's decoding may end in
DECODED, TYPED, UNTYPED = "decoded", "typed_error", "untyped_error"


#: the suffix of the files decoded from memory, as uploads are
UPLOAD_SUFFIX = ".upload"


def decode_file(path: Path) -> dict[str, Any]:
    """Decode the file from memory or from disk (by its suffix): outcome, reason or error."""
    started = time.perf_counter()
    answer: dict[str, Any] = {"outcome": DECODED}
    try:
        if path.suffix == UPLOAD_SUFFIX:
            decode_image_bytes(path.read_bytes()).image.load()
        else:
            load_image(path).image.load()
    except UnreadableImageError as exc:
        answer.update(outcome=TYPED, reason=exc.reason)
    except Exception as exc:  # anything else (MemoryError included) is what the fuzzer looks for
        answer.update(outcome=UNTYPED, error=f"{type(exc).__name__}: {exc}"[:300])
    answer["seconds"] = round(time.perf_counter() - started, 4)
    return answer


def _limit_memory(extra_mb: int) -> None:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    used = pages * resource.getpagesize()
    limit = used + extra_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str]) -> None:
    _limit_memory(int(argv[1]))
    for line in sys.stdin:
        answer = decode_file(Path(line.rstrip("\n")))
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        answer["peak_rss_mb"] = round(peak_kib / 1024, 1)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
