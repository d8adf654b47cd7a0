"""What ``medsearch eval`` says about its own run: the label field it used, whether it computed
intervals."""

from __future__ import annotations

from pathlib import Path

from tests.support.helpers import run_cli

CPU = ("--device", "cpu", "--precision", "fp32")


def test_bootstrap_0_promises_no_interval(sample_index_dir: Path, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    output = run_cli("eval", sample_index_dir, *CPU, "--bootstrap", "0", "--html", html)
    assert "95%" not in output and "bootstrap interval" not in output
    assert "values: figure (no intervals: --bootstrap 0)" in output
    assert "95%" not in html.read_text(encoding="utf-8")


def test_intervals_are_announced_when_computed(sample_index_dir: Path) -> None:
    output = run_cli("eval", sample_index_dir, *CPU, "--bootstrap", "20")
    assert "values: figure [95% bootstrap interval over queries]" in output


def test_image_to_image_heading_names_the_label_field(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    html = tmp_path / "report.html"
    args = ("--label-field", "body_part", "--bootstrap", "0", "--by", "modality", "--html", html)
    output = run_cli("eval", sample_index_dir, *CPU, *args)
    assert "image -> image (same body_part)" in output
    assert "same label" not in output
    report = html.read_text(encoding="utf-8")
    assert "image -&gt; image (same body_part)" in report and "same label" not in report
