"""The README's table of settings is rendered from the declarations, so none goes undocumented."""

from __future__ import annotations

from pathlib import Path

from indexer.settings import setting_specs
from indexer.settings_doc import END, START, documented_table, main, settings_table
from tests.support.helpers import REPO


def test_the_readme_table_of_settings_is_what_the_declarations_say() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = documented_table(readme)
    assert table == settings_table(), "run: python -m indexer.settings_doc --write README.md"
    for spec in setting_specs():
        assert f"| `{spec.variable}` |" in table, spec.variable
    for once_undocumented in ("WORKERS", "MAX_K", "THREADS", "RELOAD_INTERVAL"):
        assert f"`MEDSEARCH_{once_undocumented}`" in table
    assert "`MEDSEARCH_KEEP_DESCRIPTIONS`" in table and "`MEDSEARCH_OCR_BURNED_IN`" in table


def test_the_table_is_written_between_its_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n\n{START}\nold | table\n{END}\n\nafter\n")
    assert main(["--write", str(readme)]) == 0
    text = readme.read_text()
    assert text == f"# Title\n\nbefore\n\n{START}\n{settings_table()}{END}\n\nafter\n"
    assert main(["--write", str(readme)]) == 0 and readme.read_text() == text
    readme.write_text("no markers\n")
    assert main(["--write", str(readme)]) == 2 and readme.read_text() == "no markers\n"
