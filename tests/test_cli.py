"""The command line itself: help and examples everywhere, settings from the environment."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from indexer.cli import cli
from indexer.cli_search import parse_filters
from indexer.errors import InvalidRequestError
from indexer.settings import Settings
from tests.helpers import run_cli


def _all_commands(group: click.Group, ctx: click.Context) -> list[tuple[str, click.Command]]:
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        found.append((name, command))
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", c) for sub, c in _all_commands(command, ctx)]
    return found


def test_every_command_has_help_and_an_example() -> None:
    ctx = click.Context(cli)
    commands = _all_commands(cli, ctx)
    names = {name for name, _ in commands}
    assert {"model init", "index", "info", "search", "verify", "serve", "bench"} <= names
    for name, command in commands:
        assert command.help and "Example:" in command.help, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"
        result = CliRunner().invoke(cli, [*name.split(), "--help"])
        assert result.exit_code == 0 and "Example:" in result.output


def test_model_init_exist_ok(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    run_cli("model", "init", folder)
    result = CliRunner().invoke(cli, ["model", "init", str(folder)])
    assert result.exit_code == 1 and "not empty" in result.output
    run_cli("model", "init", folder, "--exist-ok")
    other = CliRunner().invoke(cli, ["model", "init", str(folder), "--exist-ok", "--seed", "2"])
    assert other.exit_code == 1 and "another model" in other.output


def test_library_errors_are_one_line_messages(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["search", str(tmp_path / "nothing"), "--text", "x"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: index folder") and "Traceback" not in result.output
    missing_model = CliRunner().invoke(
        cli, ["index", str(tmp_path), "--index", str(tmp_path / "i"), "--model", "/no/such"]
    )
    assert missing_model.exit_code == 1 and "--model DIR" in missing_model.output


def test_filters_from_the_command_line() -> None:
    assert parse_filters(()) is None
    assert parse_filters(("modality=CT", "label=a", "label=b", "label=c")) == {
        "modality": "CT",
        "label": ["a", "b", "c"],
    }
    with pytest.raises(InvalidRequestError):
        parse_filters(("modality",))


def test_settings_come_from_the_environment_and_flags_override() -> None:
    env = {
        "MEDSEARCH_BATCH_SIZE": "8",
        "MEDSEARCH_INDEX_DIR": "/x",
        "MEDSEARCH_DEVICE": "cpu",
        "MEDSEARCH_RELOAD_INTERVAL": "0.5",
        "MEDSEARCH_API_TOKEN": "t",
    }
    settings = Settings.from_env(env)
    assert settings.batch_size == 8 and settings.index_dir == Path("/x")
    assert settings.reload_interval == 0.5 and settings.api_token == "t"
    assert settings.replace(batch_size=None, device="cuda").device == "cuda"
    assert settings.replace(batch_size=None).batch_size == 8
    with pytest.raises(ValueError, match="MEDSEARCH_BATCH_SIZE"):
        Settings.from_env({"MEDSEARCH_BATCH_SIZE": "many"})
    assert Settings.from_env({"MEDSEARCH_COMPILE": "True"}).compile is True
    assert Settings.from_env({"MEDSEARCH_COMPILE": "0"}).compile is False
    with pytest.raises(ValueError, match="MEDSEARCH_COMPILE"):
        Settings.from_env({"MEDSEARCH_COMPILE": "maybe"})
