"""``medsearch bench``: indexing rate, query latency and index scale on this machine.

The ``bench`` group is registered on the ``medsearch`` command by name; the figures are printed
by :mod:`medsearch_bench.report`, or as JSON with --json.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from indexer.cli.options import echo_json, reports_errors, settings_from
from indexer.cli.setting_options import setting_options

from . import report


def _progress(message: str) -> None:
    click.echo(message, err=True)


def _print(
    figures: dict[str, Any], as_json: bool, lines: Callable[[dict[str, Any]], list[str]]
) -> None:
    """The figures as JSON, or as the lines ``lines`` makes of them."""
    if as_json:
        echo_json(figures)
        return
    for line in lines(figures):
        click.echo(line)


@click.group()
def bench() -> None:
    """Benchmarks: indexing images/s, query latency, a large synthetic index, soak, fuzzing.

    Every subcommand prints a table, or its figures as JSON with --json; progress goes to stderr.

    Example:

        medsearch bench corpus data/bench/corpus --n 2000

        medsearch bench index --model data/models/full --corpus data/bench/corpus --quick
    """


@bench.command("corpus")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--n", "count", type=click.IntRange(1), default=2000, show_default=True, help="Files to write."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Sample images to start from [default: data/sample/images in the current directory].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@reports_errors
def bench_corpus(out: Path, count: int, seed: int, source: Path | None, as_json: bool) -> None:
    """Write a benchmark corpus of distinct image files to OUT, made from the sample images.

    Raster samples become JPEG or PNG files at sizes from 256 to 2048 px; DICOM samples are
    copied as they are (with a new SOP Instance UID). Each file differs from every other one.

    Example:

        medsearch bench corpus data/bench/corpus --n 2000
    """
    from .corpus import make_corpus

    summary = make_corpus(out, n=count, seed=seed, source=source, log=_progress)
    _print(summary, as_json, report.corpus_lines)


@bench.command("index")
@click.option("--model", required=True, help="Model folder, name or hf-hub: id.")
@click.option(
    "--corpus",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of images (e.g. made by `medsearch bench corpus`).",
)
@setting_options(
    "runtime",
    "precision",
    "onnx_cache",
    "device",
    "compile",
    "trust_remote_code",
    "batch_size",
    "workers",
)
@setting_options("slices")
@click.option(
    "--limit", type=click.IntRange(1), help="Use a seeded random subset of this many images."
)
@click.option(
    "--repeats",
    type=click.IntRange(1, 20),
    default=2,
    show_default=True,
    help="Runs of the pipeline and of the model-only loop (the best is reported).",
)
@click.option("--quick", is_flag=True, help="64 images, one run.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@reports_errors
def bench_index(
    model: str,
    corpus: Path,
    limit: int | None,
    repeats: int,
    quick: bool,
    as_json: bool,
) -> None:
    """Indexing rate of the real pipeline vs the model alone and vs the model card's recipe.

    The pipeline indexes the images into a fresh temporary index folder (model loaded first);
    the model-only rate embeds pre-decoded tensors at the same batch size and precision; the
    recipe embeds one image at a time in fp32, as the model's own card does (whatever
    --precision says). The pipeline indexes every slice; with --slices N each repeat also
    indexes N slices per DICOM series, and both runs' wall time and images embedded are shown.

    Example:

        medsearch bench index --model data/models/full --corpus data/bench/corpus --limit 256
        medsearch bench index --model data/models/demo --corpus tests/data/ct_series --slices 16
    """
    from .index_bench import run_index_bench

    result = run_index_bench(
        model,
        corpus,
        settings=settings_from(),
        limit=limit,
        repeats=repeats,
        quick=quick,
        log=_progress,
    )
    _print(result, as_json, report.index_lines)


@bench.command("query")
@click.option(
    "--index",
    "index_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Index folder to query (its model must be available).",
)
@click.option(
    "--duration",
    type=click.FloatRange(0.5, 3600),
    help="Seconds of each concurrent phase [default: 60, --quick: 5].",
)
@click.option(
    "--clients",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Concurrent HTTP clients.",
)
@setting_options("threads", "runtime", "precision", "onnx_cache", "device")
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True, help="Hits.")
@click.option(
    "--source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Sample images the image queries are made from "
    "[default: data/sample/images in the current directory].",
)
@click.option("--quick", is_flag=True, help="Fewer queries and 5 s concurrent phases.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@reports_errors
def bench_query(
    index_dir: Path,
    duration: float | None,
    clients: int,
    k: int,
    source: Path | None,
    quick: bool,
    as_json: bool,
) -> None:
    """Text and image query latency, in process and over HTTP against `medsearch serve`.

    The server runs as a subprocess on 127.0.0.1 (a free port) and is stopped at the end;
    queries are embedded with the same device and precision in process and in the server.

    Example:

        medsearch bench query --index data/bench/scale-1m --duration 60
    """
    from .query_bench import run_query_bench

    result = run_query_bench(
        index_dir,
        settings=settings_from(index_dir=index_dir),
        duration_s=duration,
        quick=quick,
        clients=clients,
        k=k,
        source=source,
        log=_progress,
    )
    _print(result, as_json, report.query_lines)


@bench.command("scale")
@click.option("--n", "count", required=True, type=click.IntRange(1), help="Vectors to index.")
@click.option("--dim", type=click.IntRange(2, 8192), help="Vector dimension [default: 512].")
@click.option(
    "--model",
    help="Take dimension and encoder record from this model, so the index can be served.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the index in this new folder [default: a temporary one, deleted].",
)
@click.option(
    "--clusters", type=click.IntRange(1), default=1000, show_default=True, help="Gaussian clusters."
)
@click.option(
    "--spread",
    type=click.FloatRange(0.0),
    default=0.65,
    show_default=True,
    help="Noise around each cluster centre (1.0 and more: clusters overlap, harder for IVF).",
)
@setting_options("index_type")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--quick", is_flag=True, help="Fewer recall queries and timed searches.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@reports_errors
def bench_scale(
    count: int,
    dim: int | None,
    model: str | None,
    out: Path | None,
    clusters: int,
    spread: float,
    seed: int,
    quick: bool,
    as_json: bool,
) -> None:
    """Build an index of N clustered synthetic vectors; report build time, memory, latency, recall.

    Rows and vectors go through the project's own store, vector file and publish step. The
    index's own memory is measured by loading it in a fresh process. With --model, `medsearch
    serve` runs on the result (device and precision from MEDSEARCH_*): its resident memory, and
    over HTTP text queries, filtered ones (1% and 50% of the images), facets and image records.

    Example:

        medsearch bench scale --n 1000000 --model data/models/full --out data/bench/scale-1m
    """
    from .scale_bench import run_scale_bench

    settings = settings_from()
    result = run_scale_bench(
        count,
        dim=dim,
        model=model,
        out=out,
        clusters=clusters,
        spread=spread,
        quick=quick,
        seed=seed,
        index_type=settings.index_type,
        settings=settings,
        log=_progress,
    )
    _print(result, as_json, report.scale_lines)


@bench.command("checkpoint")
@click.option(
    "--index",
    "index_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder `medsearch bench scale --out` made (synthetic rows are added to it).",
)
@click.option(
    "--rows",
    type=click.IntRange(1),
    default=20_000,
    show_default=True,
    help="New rows before each checkpoint.",
)
@click.option(
    "--checkpoints",
    type=click.IntRange(1),
    default=2,
    show_default=True,
    help="Checkpoints (the first one of a run also checks the published vectors).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@reports_errors
def bench_checkpoint(index_dir: Path, rows: int, checkpoints: int, as_json: bool) -> None:
    """Time checkpoints of a long indexing run on a synthetic index: ROWS new rows and vectors
    written in batches of 32, then a publication, CHECKPOINTS times.

    Example:

        medsearch bench checkpoint --index data/bench/scale-1m --rows 20000
    """
    from .checkpoint_bench import run_checkpoint_bench

    result = run_checkpoint_bench(
        index_dir, rows=rows, checkpoints=checkpoints, settings=settings_from(), log=_progress
    )
    _print(result, as_json, report.checkpoint_lines)


@bench.command("precision")
@click.option("--model", required=True, help="Model folder, name or hf-hub: id.")
@click.option(
    "--images",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Images to embed [default: data/sample/images in the current directory].",
)
@click.option(
    "--precision",
    type=click.Choice(["bf16", "fp16"]),
    default="bf16",
    show_default=True,
    help="Reduced precision to compare with fp32.",
)
@click.option("--max-images", type=click.IntRange(1), default=32, show_default=True, help="Images.")
@click.option("--texts", type=click.IntRange(1), default=20, show_default=True, help="Query texts.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@reports_errors
def bench_precision(
    model: str,
    images: Path | None,
    precision: str,
    max_images: int,
    texts: int,
    as_json: bool,
) -> None:
    """Cosine of reduced-precision vs fp32 embeddings of the same images and texts.

    Example:

        medsearch bench precision --model data/models/full
    """
    from .precision_bench import run_precision_bench

    result = run_precision_bench(
        model,
        images=images,
        precision=precision,
        max_images=max_images,
        texts=texts,
        log=_progress,
    )
    _print(result, as_json, report.precision_lines)


@bench.command("soak")
@click.option(
    "--index",
    "index_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Index folder to serve and republish [default: a temporary index of the sample images].",
)
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Corpus folder of --index that new images are copied into [default: its corpus_root].",
)
@setting_options("model")
@click.option(
    "--duration", type=click.FloatRange(1, 7 * 86_400), required=True, help="Seconds of load."
)
@click.option(
    "--clients", type=click.IntRange(1, 64), default=8, show_default=True, help="HTTP clients."
)
@click.option(
    "--window",
    type=click.FloatRange(1, 86_400),
    default=300,
    show_default=True,
    help="Seconds of each latency window.",
)
@click.option(
    "--publish-every",
    type=click.FloatRange(1, 86_400),
    default=180,
    show_default=True,
    help="Seconds between two publishes of a new version.",
)
@setting_options("threads", "precision", "device")
@click.option(
    "--source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Sample images for the temporary index and the uploads "
    "[default: data/sample/images in the current directory].",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@reports_errors
def bench_soak(
    index_dir: Path | None,
    corpus: Path | None,
    duration: float,
    clients: int,
    window: float,
    publish_every: float,
    source: Path | None,
    seed: int,
    as_json: bool,
) -> None:
    """Mixed traffic against `medsearch serve` while `medsearch index` publishes new versions.

    Clients send text searches (some filtered), image uploads, thumbnails, similar images and
    records; every --publish-every seconds a few new images are copied into the corpus and a
    child `medsearch index` publishes a new version. Reports errors, p50/p99 per window and the
    server's memory, with a verdict on each target: no errors, a stable p99, a stable memory.

    Example:

        medsearch bench soak --model data/models/full --duration 1800 --clients 8
    """
    from .soak_bench import run_soak

    settings = settings_from()
    result = run_soak(
        duration_s=duration,
        index_dir=index_dir,
        corpus=corpus,
        model=settings.model,
        settings=settings,
        clients=clients,
        window_s=window,
        publish_every_s=publish_every,
        source=source,
        seed=seed,
        log=_progress,
    )
    _print(result, as_json, report.soak_lines)


@bench.command("fuzz")
@click.option(
    "--n", "count", type=click.IntRange(1), default=1000, show_default=True, help="Files to try."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Sample files to mutate [default: data/sample/images in the current directory].",
)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=2, show_default=True, help="Child decoders."
)
@click.option(
    "--time-limit",
    type=click.FloatRange(0.1, 600),
    default=10,
    show_default=True,
    help="Seconds one file may take before its decoder counts as hung.",
)
@click.option(
    "--memory-mb",
    type=click.IntRange(64, 1_048_576),
    default=2048,
    show_default=True,
    help="Memory a decoder may allocate beyond what it holds at start (address space cap).",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Copy the files of failing cases to this folder.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@reports_errors
def bench_fuzz(
    count: int,
    seed: int,
    source: Path | None,
    workers: int,
    time_limit: float,
    memory_mb: int,
    keep: Path | None,
    as_json: bool,
) -> None:
    """Decode N hostile variants of the sample files, each in a child under time and memory caps.

    Truncations, bit flips, huge sizes in PNG, JPEG and TIFF headers, made-up DICOM lengths and
    transfer syntaxes, PNG zip bombs. Each must decode or be refused as an unreadable image:
    a crash, a hang or another exception is counted, and the command exits with status 1.

    Example:

        medsearch bench fuzz --n 5000 --seed 1
    """
    from .fuzz_bench import run_fuzz

    result = run_fuzz(
        n=count,
        seed=seed,
        source=source,
        workers=workers,
        time_limit_s=time_limit,
        memory_mb=memory_mb,
        keep=keep,
        log=_progress,
    )
    _print(result, as_json, report.fuzz_lines)
    if not result["passed"]:
        raise SystemExit(1)
