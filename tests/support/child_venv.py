"""A fresh virtual environment that sees this test run's libraries but not its own MedSearch.

``python -m venv --system-site-packages`` made from inside a virtual environment sees the base
interpreter's packages, not that environment's: torch and the rest would be missing. So the child
also gets a ``.pth`` file naming this environment's site-packages folders. A folder named in a
``.pth`` file is only added to ``sys.path``; the ``.pth`` files inside it are not run, so the
editable install of the checkout (a ``.pth`` file and its import hook) stays out, and whatever
the child installs itself comes first. Packages go in with ``--no-deps``: no second torch, no pin
of another project replacing one of ours. Commands run without ``PYTHONPATH`` and outside the
checkout, so that nothing of the checkout is imported by accident.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: variables that would let the checkout or this environment's settings reach the child
_LEAKING_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH")


@dataclass(frozen=True)
class ChildVenv:
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def program(self, name: str) -> Path:
        """An entry point the child's packages installed (``medsearch``)."""
        return self.path / "bin" / name

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """This process's environment without what would leak into the child, plus ``extra``."""
        kept = {k: v for k, v in os.environ.items() if k not in _LEAKING_VARIABLES}
        return {**kept, **(extra or {})}

    def run(
        self,
        *args: str | Path,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        timeout: float = 300,
    ) -> str:
        """Run a command of the child (a ``bin/`` name or a path) in ``cwd``, with ``env``
        added to the environment; its stdout, or a failure with all its output."""
        command = [str(a) for a in args]
        if "/" not in command[0]:
            command[0] = str(self.program(command[0]))
        result = subprocess.run(
            command, cwd=cwd, env=self.env(env), capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def pip_install(self, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
        """``pip install --no-deps ARGS`` into the child, with this environment's pip (the
        caller checks the result: a package index may be out of reach)."""
        command = [str(self.python), "-m", "pip", "install", "--no-deps", "--quiet",
                   "--disable-pip-version-check", *map(str, args)]  # fmt: skip
        return subprocess.run(
            command, cwd=cwd, env=self.env(), capture_output=True, text=True, timeout=300
        )


def make_child_venv(path: Path) -> ChildVenv:
    """A new virtual environment at ``path`` over this one's libraries (see the module)."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(path)],
        check=True,
    )
    child = ChildVenv(path)
    purelib = child.run(
        child.python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=path
    ).strip()
    parents = [folder for folder in site.getsitepackages() if Path(folder).is_dir()]
    (Path(purelib) / "_test_run_libraries.pth").write_text("\n".join(parents) + "\n")
    return child
