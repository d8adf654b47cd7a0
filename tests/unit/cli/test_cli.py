"""The command line itself: help and examples everywhere, settings from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from indexer.cli import cli
from indexer.cli.search import parse_filters
from indexer.errors import InvalidRequestError, SettingsError
from indexer.settings import Settings
from tests.support.helpers import SAMPLE_DIR, all_commands, run_cli


def test_every_command_has_help_and_an_example() -> None:
    commands = all_commands()
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
        cli, ["index", str(SAMPLE_DIR), "--index", str(tmp_path / "i"), "--model", "/no/such"]
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
    assert Settings.from_env({"MEDSEARCH_COMPILE": "True"}).compile is True
    assert Settings.from_env({"MEDSEARCH_COMPILE": "0"}).compile is False


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("MEDSEARCH_BATCH_SIZE", "many", "is not a whole number (accepts 1 to 4096)"),
        ("MEDSEARCH_BATCH_SIZE", "0", "is out of range (accepts 1 to 4096)"),
        ("MEDSEARCH_MAX_K", "0", "is out of range (accepts 1 to 100000)"),
        ("MEDSEARCH_WORKERS", "1000", "is out of range (accepts 1 to 64)"),
        ("MEDSEARCH_RELOAD_INTERVAL", "nan", "is out of range"),
        ("MEDSEARCH_RELOAD_INTERVAL", "soon", "is not a number"),
        ("MEDSEARCH_DEVICE", "gpu", "is not one of auto, cpu, cuda"),
        ("MEDSEARCH_PRECISION", "fp64", "is not one of auto, fp32, bf16, fp16"),
        ("MEDSEARCH_INDEX_TYPE", "lsh", "is not one of auto, flat, hnsw, ivf, ivfsq, ivfpq"),
        ("MEDSEARCH_INDEX_MEMORY", "lots", "is not a size such as 512M or 4G"),
        ("MEDSEARCH_INDEX_MEMORY", "4X", "is not a size such as 512M or 4G"),
        ("MEDSEARCH_INDEX_MEMORY", "100K", "is out of range (accepts a size of 1M or more"),
        ("MEDSEARCH_COMPILE", "maybe", "is not one of 1/0, true/false"),
        ("MEDSEARCH_THUMBNAIL_DIR", "pyproject.toml", "is a file; it must be a folder"),
        ("MEDSEARCH_THUMBNAIL_CACHE_MB", "0", "is out of range (accepts 1 to 100000)"),
        ("MEDSEARCH_SESSION_TTL", "10", "is out of range (accepts 60 to 604800)"),
        ("MEDSEARCH_AUTH_FAILURES", "0", "is out of range (accepts 1 to 100000)"),
    ],
)
def test_a_wrong_setting_is_refused_when_loaded(variable: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})
    assert raised.value.message.startswith(f"{variable}={value!r} ")
    assert says in raised.value.message


def test_settings_built_in_code_are_checked_too() -> None:
    with pytest.raises(SettingsError, match="max_k is out of range"):
        Settings(max_k=0)
    with pytest.raises(SettingsError, match="device is not one of"):
        Settings().replace(device="gpu")


@pytest.mark.parametrize(
    "command", ["index", "info", "verify", "search", "serve", "bench", "model"]
)
def test_every_command_reports_a_wrong_setting_in_one_line_with_status_2(
    command: str, sample_index_dir: Path, tmp_path: Path
) -> None:
    args = {
        "index": [str(SAMPLE_DIR), "--index", str(tmp_path / "index")],
        "info": [str(sample_index_dir)],
        "verify": [str(sample_index_dir)],
        "search": [str(sample_index_dir), "--text", "chest"],
        "serve": [str(sample_index_dir), "--port", "0"],
        "bench": ["query", "--index", str(sample_index_dir), "--quick"],
        "model": ["init", str(tmp_path / "model")],
    }[command]
    env = {"MEDSEARCH_BATCH_SIZE": "many", "MEDSEARCH_MAX_K": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "indexer", command, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: MEDSEARCH_"), result.stderr


def test_a_front_end_that_cannot_be_loaded_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    import indexer.cli as cli_package

    broken = {**cli_package.FRONT_END_COMMANDS, "serve": "search_api.no_such_module:serve"}
    monkeypatch.setattr(cli_package, "FRONT_END_COMMANDS", broken)
    monkeypatch.setattr(cli_package.cli, "_front_ends_loaded", False)
    core = {n: c for n, c in cli_package.cli.commands.items() if n not in broken}
    monkeypatch.setattr(cli_package.cli, "commands", core)
    result = CliRunner().invoke(cli_package.cli, ["serve", "--help"])
    assert result.exit_code == 1
    assert "the 'serve' command: search_api.no_such_module:serve cannot be loaded" in (
        result.output
    )
