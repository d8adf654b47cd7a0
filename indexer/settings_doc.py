"""The README's table of settings, rendered from their declarations in :mod:`indexer.settings`.

``python -m indexer.settings_doc`` prints the table; ``python -m indexer.settings_doc --write
README.md`` replaces the one between the markers :data:`START` and :data:`END` of that file.
A test fails when the README's table is not what the declarations render, so a new setting
cannot go undocumented.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import MedSearchError
from .setting_spec import SettingSpec
from .settings import setting_specs

START = "<!-- settings:start -->"
END = "<!-- settings:end -->"

_KINDS = {bool: "boolean", int: "whole number", float: "number", str: "text", Path: "folder"}


class SettingsDocError(MedSearchError):
    """The file has no table of settings between the markers."""

    code = "settings_doc"


def settings_table() -> str:
    """A Markdown table with a row per setting: variable, type, default, bounds, what it does."""
    rows = [
        "| variable | type | default | bounds | what it does |",
        "|---|---|---|---|---|",
    ]
    for spec in setting_specs():
        cells = (f"`{spec.variable}`", _type_text(spec), spec.default_text, spec.range_text())
        escaped = (cell.replace("|", "\\|") for cell in (*cells, spec.help))
        rows.append("| " + " | ".join(escaped) + " |")
    return "\n".join(rows) + "\n"


def documented_table(text: str) -> str:
    """The table between the markers of ``text`` (a README)."""
    start, end = _marked_span(text)
    return text[start:end]


def with_table(text: str) -> str:
    """``text`` with the table between its markers replaced by :func:`settings_table`."""
    start, end = _marked_span(text)
    return text[:start] + settings_table() + text[end:]


def _marked_span(text: str) -> tuple[int, int]:
    begin, finish = text.find(START), text.find(END)
    if begin < 0 or finish < begin:
        raise SettingsDocError(f"no table of settings between {START} and {END}")
    return begin + len(START) + 1, finish


def _type_text(spec: SettingSpec) -> str:
    if spec.choices is not None:
        return ", ".join(f"`{choice}`" for choice in spec.choices)
    if spec.size:
        return "size (512M, 4G)"
    if spec.word is not None:
        return f"`{spec.word}` or a whole number"
    return _KINDS[spec.kind]


def main(argv: list[str] | None = None) -> int:
    """Print the table, or write it into a file between its markers."""
    parser = argparse.ArgumentParser(prog="python -m indexer.settings_doc", description=__doc__)
    parser.add_argument("--write", type=Path, metavar="FILE", help="Update FILE's table.")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write(settings_table())
        return 0
    text = args.write.read_text(encoding="utf-8")
    try:
        args.write.write_text(with_table(text), encoding="utf-8")
    except SettingsDocError as exc:
        print(f"error: {args.write}: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
