"""``medsearch search`` on the real sample index: typed filters, case hints, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer.cli import cli
from indexer.cli.options import USAGE_EXIT_CODE

HEAD_CT = "images/dcm_ct_head.dcm"


def run_search(index_dir: Path, *args: str) -> tuple[int, str]:
    """Exit status and output; with ``--json``, the JSON on stdout alone (a random-weights
    warning goes to stderr)."""
    result = CliRunner().invoke(cli, ["search", str(index_dir), *args])
    return result.exit_code, result.stdout if "--json" in args else result.output


@pytest.mark.parametrize(
    "filters",
    [
        ["bits_stored=13"],
        ["slice_thickness=5"],
        ["slice_thickness=5.0", "bits_stored=13", "modality=CT"],
    ],
)
def test_number_filters_given_as_text_find_stored_numbers(
    sample_index_dir: Path, filters: list[str]
) -> None:
    options = [arg for f in filters for arg in ("--filter", f)]
    code, out = run_search(sample_index_dir, "--text", "x", "-k", "32", *options, "--json")
    assert code == 0, out
    paths = [hit["path"] for hit in json.loads(out)["results"]]
    assert HEAD_CT in paths


def test_a_text_value_in_the_wrong_case_names_the_stored_one(sample_index_dir: Path) -> None:
    code, out = run_search(sample_index_dir, "--text", "x", "--filter", "modality=ct")
    assert code == 0
    assert "no image matches; filter values are exact: did you mean --filter modality=CT?" in out
    code, out = run_search(sample_index_dir, "--text", "x", "--filter", "modality=ct", "--json")
    assert json.loads(out)["suggestions"] == {"modality": ["CT"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give exactly one of --text, --image, --id"),
        (["--text", "x", "--id", "1"], "give exactly one of --text, --image, --id, not --text"),
        (["--text", ""], "--text needs words to search for"),
        (["--text", "  "], "--text needs words to search for"),
        (["--text", "x", "--filter", "modality"], "--filter needs FIELD=VALUE, got 'modality'"),
        (["--text", "x", "--filter", "no_such=1"], "unknown filter field 'no_such'"),
        (
            ["--text", "x", "--filter", "bits_stored=thirteen"],
            "filter 'bits_stored': 'thirteen' cannot match its values, which are numbers",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line_naming_the_options(
    sample_index_dir: Path, args: list[str], message: str
) -> None:
    code, out = run_search(sample_index_dir, *args)
    assert code == USAGE_EXIT_CODE, out
    assert out.startswith("Error: " + message) and out.count("\n") == 1, out
    assert "image_id" not in out and "vector" not in out


def test_collapse_gives_one_result_per_series_with_its_size(ct_series_index_dir: Path) -> None:
    code, out = run_search(ct_series_index_dir, "--id", "3", "-k", "10", "--collapse", "series")
    assert code == 0, out
    assert (
        out.count("images,") == 4 and "series=philips_s21570/s2020: 140 images, 140 matched" in out
    )
    assert "(4 groups;" in out
    code, out = run_search(
        ct_series_index_dir, "--text", "head", "--collapse", "study", "-k", "2", "--json"
    )
    assert code == 0, out
    found = json.loads(out)
    assert found["total"] == 3 and len(found["results"]) == 2
    assert {"field", "value", "size", "matched", "next"} == set(found["results"][0]["group"])
    code, out = run_search(ct_series_index_dir, "--text", "head", "--collapse", "nope")
    assert code == USAGE_EXIT_CODE and "unknown group field 'nope'" in out
