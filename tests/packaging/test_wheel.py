"""MedSearch as users install it: the wheel and sdist that ``python -m build`` makes, the wheel
installed into a fresh virtual environment (not editable), and its commands run from there.

The build runs on a copy of the checkout (it writes ``*.egg-info`` beside the sources) with
``--no-isolation``, so that it needs no package index: the build back end is this environment's
setuptools. The wheel goes in with ``--no-deps`` over this environment's libraries
(:mod:`tests.support.child_venv`): one torch, and MedSearch itself only from the wheel, which the
test checks before anything else.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from search_api.process import run_service
from tests.support.child_venv import ChildVenv, make_child_venv
from tests.support.helpers import REPO, SAMPLE_IMAGES

pytestmark = pytest.mark.slow

#: the packages the wheel installs: every top-level package of the checkout but the tests
RUNTIME_PACKAGES = sorted(
    init.parent.name for init in REPO.glob("*/__init__.py") if init.parent.name != "tests"
)
#: a few sample images of several kinds: enough to index, search and serve, quickly
CORPUS = ("cxr_01.jpg", "cxr_02.jpg", "dcm_ct_small.dcm", "dcm_mr_small.dcm", "fundus_01.jpg")
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def checkout_files() -> list[str]:
    """The checkout's files: those git tracks or would add (without git: every file but
    caches, builds and environments)."""
    command = ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others"]
    try:
        listed = (
            subprocess.run([*command, "--exclude-standard"], check=True, capture_output=True)
            .stdout.decode()
            .split("\0")
        )
    except (OSError, subprocess.CalledProcessError):
        skipped = {".git", ".venv", "__pycache__", "build", "dist", ".mypy_cache", ".ruff_cache"}
        listed = [
            str(p.relative_to(REPO))
            for p in REPO.rglob("*")
            if not skipped & set(p.relative_to(REPO).parts) and ".egg-info" not in str(p)
        ]
    return sorted(name for name in listed if name and (REPO / name).is_file())


def package_files() -> list[str]:
    """The checkout's files of the installed packages."""
    return [
        name
        for name in checkout_files()
        if name.split("/")[0] in RUNTIME_PACKAGES and not name.endswith(".pyc")
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The wheel and the sdist ``python -m build`` makes of a copy of the checkout (the wheel
    built from the sdist, as ``build`` does)."""
    root = tmp_path_factory.mktemp("build")
    source, dist = root / "src", root / "dist"
    for name in checkout_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)],
        check=True, cwd=source, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = dist.glob("medsearch-*.whl")
    (sdist,) = dist.glob("medsearch-*.tar.gz")
    return wheel, sdist


def test_the_wheel_and_the_sdist_hold_every_file_of_the_packages(
    built: tuple[Path, Path],
) -> None:
    wheel, sdist = built
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        in_sdist = {name.removeprefix(top + "/") for name in archive.getnames()}
    wanted = package_files()
    assert any(name.startswith("web/static/") for name in wanted)
    assert any(name.startswith("indexer/assets/") for name in wanted)
    assert [name for name in wanted if name not in in_wheel] == []
    assert [name for name in [*wanted, "pyproject.toml", "README.md"] if name not in in_sdist] == []
    dist_info = next(n for n in in_wheel if n.endswith(".dist-info/RECORD")).rsplit("/", 1)[0]
    read = zipfile.ZipFile(wheel).read
    assert read(f"{dist_info}/top_level.txt").decode().split() == RUNTIME_PACKAGES
    assert "medsearch = indexer.cli:cli" in read(f"{dist_info}/entry_points.txt").decode()


@pytest.fixture(scope="module")
def installed(built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> ChildVenv:
    """A fresh virtual environment with the wheel installed, as ``pip install`` installs it."""
    child = make_child_venv(tmp_path_factory.mktemp("installed") / "venv")
    result = child.pip_install("--no-index", "--ignore-installed", built[0], cwd=child.path)
    assert result.returncode == 0, result.stderr
    return child


def test_medsearch_comes_from_the_wheel_not_the_checkout(
    installed: ChildVenv, tmp_path: Path
) -> None:
    code = (
        "import importlib, json, sys, sysconfig, indexer;"
        "print(json.dumps([sysconfig.get_path('purelib'), indexer.__version__,"
        " [importlib.import_module(name).__file__ for name in sys.argv[1:]]]))"
    )
    purelib, version, files = json.loads(
        installed.run(installed.python, "-c", code, *RUNTIME_PACKAGES, cwd=tmp_path)
    )
    assert version != "0.0.0"  # read from the installed package's metadata
    assert len(files) == len(RUNTIME_PACKAGES) >= 4
    for file in files:
        assert Path(file).resolve().is_relative_to(Path(purelib).resolve()), file
    assert not [f for f in files if Path(f).resolve().is_relative_to(REPO)]


def test_the_installed_commands_index_search_export_and_serve(
    installed: ChildVenv, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in CORPUS:
        shutil.copy2(SAMPLE_IMAGES / name, corpus / name)
    model, index = tmp_path / "model", tmp_path / "index"
    offline = {"HF_HUB_OFFLINE": "1", "MEDSEARCH_DEVICE": "cpu"}

    def medsearch(*args: str | Path) -> str:
        return installed.run("medsearch", *args, cwd=tmp_path, env=offline)

    medsearch("model", "init", model, "--size", "tiny")
    medsearch("index", corpus, "--index", index, "--model", model, "--precision", "fp32", "--quiet")
    found = json.loads(medsearch("search", index, "--text", "chest x-ray", "-k", "3", "--json"))
    assert len(found["results"]) == 3 and found["total"] == len(CORPUS)
    medsearch("export", index, "--out", tmp_path / "x.parquet", "--format", "parquet", "--quiet")
    assert (tmp_path / "x.parquet").stat().st_size > 0

    env: dict[str, str | None] = {"PYTHONPATH": None, **offline}
    with run_service(
        index, threads=2, env=env, program=[installed.program("medsearch")], cwd=tmp_path
    ) as server:
        info = json.loads(fetch(server.url + "/api/info")[1])
        assert info["count"] == len(CORPUS)
        fetched = dict(page_and_assets(server.url + "/"))
    scripts = [url for url in fetched if url.endswith(".js")]
    assert any(url.endswith("/app.js") for url in scripts) and len(scripts) > 5
    assert any(url.endswith(".css") for url in fetched)
    assert all(size > 0 for size in fetched.values()), fetched


def fetch(url: str) -> tuple[str, bytes]:
    """The content type and body of a 200 answer (any other status fails the test)."""
    with _OPENER.open(url, timeout=30) as response:
        assert response.status == 200, url
        return response.headers.get("Content-Type", ""), response.read()


#: what a page, a stylesheet or an ES module refers to
_REFERENCES = (
    re.compile(r"""(?:src|href)\s*=\s*["']([^"'#?][^"']*)["']"""),
    re.compile(r"""(?:^|[\s;])(?:import|export)\s[^'";]*?from\s*["']([^"']+)["']""", re.M),
    re.compile(r"""(?:^|[\s;])import\s*\(?\s*["']([^"']+)["']""", re.M),
    re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)"""),
)


def page_and_assets(page_url: str) -> Iterator[tuple[str, int]]:
    """The page and every file it refers to, and they refer to, from the same server, fetched
    over HTTP: each URL with its size."""
    origin = urllib.parse.urlsplit(page_url)[:2]
    waiting, seen = [page_url], {page_url}
    while waiting:
        url = waiting.pop()
        content_type, body = fetch(url)
        yield url, len(body)
        if not re.search(r"html|javascript|css", content_type):
            continue
        for pattern in _REFERENCES:
            for reference in pattern.findall(body.decode("utf-8")):
                target = urllib.parse.urljoin(url, reference)
                parts = urllib.parse.urlsplit(target)
                if parts[:2] == origin and parts.path != "/" and target not in seen:
                    seen.add(target)
                    waiting.append(target)
