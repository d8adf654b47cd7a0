"""Replicas: several ``medsearch serve`` processes over one index folder each pick up every new
version that a third process publishes, and answer every request while it does."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from tests.support.helpers import SAMPLE_IMAGES, tiny_model_args
from tests.support.serving import serve

FIRST = ["cxr_01.jpg", "cxr_02.jpg", "fundus_01.jpg", "histo_01.png"]
ADDED = ["dcm_ct_head.dcm", "dcm_mr_small.dcm", "cxr_03.jpg", "fundus_02.png"]


def index(corpus: Path, index_dir: Path, model: list[str]) -> None:
    """``medsearch index`` in a process of its own, as an operator's job would run it."""
    command = [sys.executable, "-m", "indexer", "index", str(corpus), "--index", str(index_dir)]
    subprocess.run([*command, *model], check=True, timeout=300)


@pytest.mark.slow
def test_two_replicas_follow_a_third_process_that_publishes(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for name in FIRST:
        shutil.copy(SAMPLE_IMAGES / name, corpus)
    model = [str(a) for a in tiny_model_args(tiny_model_dir)]
    index(corpus, index_dir, model)
    env = {"MEDSEARCH_RELOAD_INTERVAL": "0.2"}
    with ExitStack() as stack:
        replicas = [stack.enter_context(serve(index_dir, threads=2, env=env)) for _ in range(2)]
        seen: dict[str, list[int]] = {r.url: [] for r in replicas}
        answers: list[int] = []
        stop = threading.Event()

        def ask(url: str) -> None:
            with requests.Session() as session:
                while not stop.is_set():
                    info = session.get(f"{url}/api/info", timeout=30)
                    found = session.post(f"{url}/api/search", json={"text": "x-ray"}, timeout=30)
                    answers.extend((info.status_code, found.status_code))
                    if info.status_code == 200:
                        seen[url].append(info.json()["count"])

        askers = [threading.Thread(target=ask, args=(r.url,)) for r in replicas]
        for asker in askers:
            asker.start()
        try:
            for name in ADDED:
                shutil.copy(SAMPLE_IMAGES / name, corpus)
            index(corpus, index_dir, model)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(
                counts and counts[-1] == len(FIRST) + len(ADDED) for counts in seen.values()
            ):
                time.sleep(0.2)
        finally:
            stop.set()
            for asker in askers:
                asker.join(timeout=60)
        assert answers and set(answers) == {200}
        for counts in seen.values():
            assert counts[0] == len(FIRST) and counts[-1] == len(FIRST) + len(ADDED)
            assert counts == sorted(counts)  # never back to an older version
            assert set(counts) == {len(FIRST), len(FIRST) + len(ADDED)}
        for replica in replicas:
            found = requests.post(
                f"{replica.url}/api/search", json={"text": "x", "k": 20}, timeout=30
            )
            assert {hit["path"] for hit in found.json()["results"]} == set(FIRST + ADDED)
