"""Options that override a setting are built from its declaration, on every command."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from indexer.cli import cli
from indexer.cli.options import settings_from
from indexer.cli.setting_options import (
    SettingOption,
    SizeParam,
    WordOrCountParam,
    setting_options,
)
from indexer.setting_spec import SettingSpec
from indexer.settings import setting_spec, setting_specs
from tests.support.helpers import SAMPLE_DIR, all_commands

#: options named like a setting that deliberately do not override it, and why
NOT_OVERRIDES = {
    ("index", "--model"): "new indexes only; an existing index keeps its own model",
    ("bench index", "--model"): "required: the model whose rates are measured",
    ("bench scale", "--model"): "where the dimension and encoder record come from, if given",
    ("bench precision", "--model"): "required: the model whose precision is compared",
    ("bench precision", "--precision"): "the reduced precision compared with fp32",
    ("bench fuzz", "--workers"): "child processes of the fuzzer, not decoding threads",
    ("eval", "--group-field"): "the field whose groups are left out of image-to-image figures",
}


def _assert_constraints_match(option: click.Option, spec: SettingSpec, shown: str) -> None:
    kind = option.type
    if spec.choices is not None:
        assert isinstance(kind, click.Choice) and tuple(kind.choices) == spec.choices, shown
    elif spec.size:
        assert spec.bounds is not None and isinstance(kind, SizeParam), shown
        assert kind.minimum == spec.bounds[0], shown
    elif spec.word is not None:
        assert isinstance(kind, WordOrCountParam) and kind.spec == spec, shown
    elif spec.kind is int:
        assert isinstance(kind, click.IntRange), shown
        assert (kind.min, kind.max) == (spec.bounds or (None, None)), shown
    elif spec.kind is float:
        assert isinstance(kind, click.FloatRange), shown
        assert (kind.min, kind.max) == (spec.bounds or (None, None)), shown
    elif spec.kind is bool:
        assert option.is_flag, shown
    else:
        assert not isinstance(kind, (click.Choice, click.IntRange, click.FloatRange)), shown


def test_every_option_that_overrides_a_setting_has_its_bounds_and_choices() -> None:
    setting_of_flag = {
        flag: spec for spec in setting_specs() for flag in click.Option([spec.option]).opts
    }
    overriding: set[str] = set()
    for name, command in all_commands():
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            shown = f"medsearch {name} {param.opts[0]}"
            if not isinstance(param, SettingOption):
                if any(flag in setting_of_flag for flag in param.opts):
                    assert (name, param.opts[0]) in NOT_OVERRIDES, f"{shown} is declared by hand"
                continue
            spec = setting_spec(param.setting)
            assert param.opts[0] == setting_of_flag[param.opts[0]].option.split("/")[0], shown
            assert param.help == spec.help and spec.variable in str(param.show_default), shown
            _assert_constraints_match(param, spec, shown)
            overriding.add(spec.name)
    assert {"batch_size", "index_memory", "device", "threads", "compile"} <= overriding


@click.command()
@setting_options("batch_size", "compile", "trust_remote_code", "index_memory")
def _show_settings() -> None:
    settings = settings_from(index_dir=Path("chosen"))
    values = [settings.batch_size, settings.compile, settings.trust_remote_code]
    click.echo(json.dumps([*values, settings.index_memory, str(settings.index_dir)]))


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, [32, False, False]),
        ([], {"MEDSEARCH_BATCH_SIZE": "8", "MEDSEARCH_COMPILE": "1"}, [8, True, False]),
        (["--batch-size", "16", "--no-compile"], {"MEDSEARCH_COMPILE": "1"}, [16, False, False]),
        (["--trust-remote-code", "--compile"], {}, [32, True, True]),
    ],
)
def test_an_option_given_overrides_the_environment_and_one_left_out_does_not(
    args: list[str], env: dict[str, str], expected: list[object]
) -> None:
    result = CliRunner().invoke(_show_settings, [*args, "--index-memory", "64M"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [*expected, 64 << 20, "chosen"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--batch-size", "0"], "0 is not in the range 1<=x<=4096"),
        (["--index-memory", "100K"], "out of range (accepts a size of 1M or more"),
        (["--engine", "spark"], "'spark' is not one of 'threaded', 'ray'"),
        (["--gpus-per-worker", "65"], "65.0 is not in the range 0.0<=x<=64.0"),
    ],
)
def test_an_option_out_of_its_settings_bounds_exits_with_status_2(
    args: list[str], says: str, tmp_path: Path
) -> None:
    index_args = ["index", str(SAMPLE_DIR), "--index", str(tmp_path / "index"), *args]
    result = CliRunner().invoke(cli, index_args)
    assert result.exit_code == 2 and says in result.output, result.output
    assert not (tmp_path / "index").exists()
