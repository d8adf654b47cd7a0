"""``medsearch index``, ``info`` and ``verify``: building and checking an index folder."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .interrupts import StopRequest, stopping_on_signals
from .options import echo_json, reports_errors, settings_from
from .setting_options import setting_options

if TYPE_CHECKING:
    from ..indexing.pipeline import IndexReport


@click.command()
@click.argument("corpus")
@click.option(
    "--index",
    "index_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Index folder to create or update.",
)
@click.option(
    "--metadata",
    "metadata_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV or JSONL sidecar keyed by relative path (caption, ...).",
)
@click.option(
    "--model",
    help="Model name, hf-hub: id or local folder (new indexes only; "
    "default: the index's own model, else biomedclip).",
)
@setting_options(
    "batch_size",
    "checkpoint_seconds",
    "workers",
    "engine",
    "ray_address",
    "gpus_per_worker",
    "device",
    "runtime",
    "precision",
    "onnx_cache",
    "compile",
    "trust_remote_code",
    "index_type",
    "index_memory",
    "group_fields",
)
@click.option("--prune", is_flag=True, help="Remove records of files no longer in the corpus.")
@click.option(
    "--dicomweb-filter",
    "dicomweb_filters",
    multiple=True,
    metavar="KEY=VALUE",
    help="QIDO-RS matching key for a PACS corpus, e.g. Modality=CT (repeatable).",
)
@setting_options("slices", "keep_descriptions", "ocr_burned_in")
@click.option(
    "--watch",
    type=click.FloatRange(min=1.0),
    metavar="SECONDS",
    help="Keep indexing what is new every SECONDS, publishing each round, until stopped.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@reports_errors
def index(
    corpus: str,
    index_dir: Path,
    metadata_file: Path | None,
    model: str | None,
    prune: bool,
    dicomweb_filters: tuple[str, ...],
    watch: float | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Embed the images under CORPUS into the index folder (incremental, safe to kill).

    CORPUS is a folder, or the http(s) URL of a PACS's DICOMweb service (credentials from
    MEDSEARCH_DICOMWEB_TOKEN or MEDSEARCH_DICOMWEB_USER/_PASSWORD). Files are recognised by
    content (PNG, JPEG, TIFF, BMP, WebP, GIF, DICOM). Unchanged files are skipped, identical
    bytes are embedded once, and a bad file is recorded, never fatal. A corpus without images, an
    index folder as CORPUS, and an --index folder that is the corpus or holds other files are
    refused (exit status 1) before anything is written. --slices N embeds N evenly spaced
    slices of each DICOM series (the others are counted); a PACS retrieves only those.

    Ctrl-C (or SIGTERM) stops after the batch in flight, publishes what is indexed, prints the
    summary and exits with status 130 (143 for SIGTERM); the same command continues. A run also
    publishes every --checkpoint-seconds, so even a killed one stays searchable up to then.

    Exit status 3 when the disk is full: the last published index is left as it was, and the
    next run after space is freed finishes the job.

    Example:

        medsearch index data/sample --index data/index --metadata data/sample/metadata.csv
    """
    from ..errors import SourceOptionError
    from ..imaging.burned_in import tesseract_path
    from ..indexing.pipeline import encoder_for, index_corpus
    from ..sources.registry import open_source

    settings = settings_from(index_dir=index_dir)
    if settings.ocr_burned_in:
        tesseract_path()  # fail now, not once per image
    try:
        source = open_source(corpus, settings, selection=dicomweb_filters)
    except SourceOptionError as exc:
        raise click.UsageError("--dicomweb-filter applies to a DICOMweb URL corpus only") from exc

    # watching loads the model once, not every round
    encoder = encoder_for(settings, model, source) if watch is not None else None
    with stopping_on_signals("stopping: writing the batch in flight, then publishing") as stop:
        index_round = functools.partial(
            index_corpus,
            settings,
            source,
            metadata_file=metadata_file,
            model=model,
            prune=prune,
            encoder=encoder,
            stop=stop.event,
            allow_empty_corpus=watch is not None,  # a watched folder may fill later
        )
        run_once = functools.partial(
            _run_and_report, index_round, stop=stop, as_json=as_json, quiet=quiet
        )
        if watch is not None:
            _keep_indexing(run_once, every=watch, stop=stop)
            return
        report = run_once()
    if stop.signum is not None:
        raise SystemExit(stop.exit_code)
    if report.count == 0 and report.failed:
        raise click.ClickException("no file could be read; nothing was indexed")


def _run_and_report(
    index_round: Callable[..., IndexReport], *, stop: StopRequest, as_json: bool, quiet: bool
) -> IndexReport:
    """One indexing round, with a progress bar unless quiet; prints its summary (and, when
    the round was interrupted, how to continue)."""
    bar = None if quiet or as_json else _ProgressBar()
    try:
        report = index_round(progress=bar)
    finally:
        if bar:
            bar.close()
    summary = report.to_dict()
    interrupted = stop.event.is_set()
    if as_json:
        echo_json({**summary, "interrupted": interrupted})
    else:
        _print_summary(summary)
    if interrupted:
        click.echo(
            f"interrupted: the {report.count} images in the index are published and searchable; "
            "run the same command again to continue",
            err=as_json,
        )
    return report


def _keep_indexing(run_once: Callable[[], IndexReport], every: float, stop: StopRequest) -> None:
    """Run ``run_once`` every ``every`` seconds until interrupted (then exit status 0: stopping
    is how watching ends; a round cut short publishes what it wrote)."""
    try:
        while not stop.event.is_set():
            run_once()
            stop.event.wait(every)
    except KeyboardInterrupt:  # asked twice: the round is dropped, what it committed stays
        return


class _ProgressBar:
    """tqdm progress on stderr; the rate is the run's own (:func:`files_per_second`), the one
    the summary prints."""

    def __init__(self) -> None:
        self._bar: Any = None

    def __call__(self, done: int, total: int, seconds: float) -> None:
        from ..indexing.report import files_per_second

        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                desc="indexing",
                leave=False,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} files "
                "[{elapsed}<{remaining}{postfix}]",
            )
        self._bar.set_postfix_str(f"{files_per_second(done, seconds):.2f} files/s", refresh=False)
        self._bar.n = done
        self._bar.refresh()  # a batch at a time: each update is shown

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _print_summary(report: dict[str, Any]) -> None:
    click.echo(
        f"indexed {report['indexed']} ({report['processed']} files processed at "
        f"{report['images_per_s']:.2f} files/s; "
        f"{report['duplicates']} identical copies), unchanged {report['unchanged']}, "
        f"updated {report['updated']}, metadata updated {report['metadata_updated']}, "
        f"pruned {report['pruned']}, "
        f"skipped {sum(report['skipped'].values())}, failed {len(report['failed'])}"
    )
    for reason, n in sorted(report["skipped"].items()):
        click.echo(f"  skipped {n}: {reason}")
    skipped_paths = [f["path"] for f in report["skipped_files"]]
    _print_some("skipped", skipped_paths, sum(report["skipped"].values()))
    for failure in report["failed"][:20]:
        click.echo(f"  failed {failure['path']}: {failure.get('message', failure['reason'])}")
    if len(report["failed"]) > 20:
        click.echo(f"  ... and {len(report['failed']) - 20} more (see `medsearch info --json`)")
    if "sidecar" in report:
        _print_sidecar(report["sidecar"])
    if report["missing"]:
        click.echo(f"  {report['missing']} indexed files are gone from disk; --prune removes them")
    if report["slices_left_out"]:
        click.echo(
            f"  {report['slices_left_out']} slices of DICOM series left out by --slices "
            f"({report['slices_removed']} of them removed from the index)"
        )
    stages = ", ".join(
        f"{name} {seconds:.1f} s" for name, seconds in report["stage_seconds"].items()
    )
    click.echo(
        f"{report['count']} images in the index ({report['seconds']:.1f} s; "
        f"{report['engine']} engine, busy: {stages})"
    )


#: files a text summary names in each list (``--json`` has more)
SUMMARY_NAMES = 5


def _print_some(what: str, paths: list[str], total: int) -> None:
    """Name the first of ``paths`` on one line, and how many more of ``total`` there are."""
    if not paths:
        return
    more = total - SUMMARY_NAMES
    tail = f" and {more} more (see --json)" if more > 0 else ""
    click.echo(f"  {what}: {', '.join(paths[:SUMMARY_NAMES])}{tail}")


def _print_sidecar(sidecar: dict[str, Any]) -> None:
    if sidecar["unmatched"]:
        click.echo(
            f"  metadata: {sidecar['unmatched']} of {sidecar['rows']} rows name no file "
            "of the corpus (paths are relative to the corpus folder)"
        )
        _print_some("no such file", sidecar["unmatched_paths"], sidecar["unmatched"])
    if sidecar["set_aside_columns"]:
        click.echo(
            f"  metadata columns set aside (the index measures them itself): "
            f"{', '.join(sidecar['set_aside_columns'])}"
        )
    for column, stored_as in sidecar["renamed_columns"].items():
        click.echo(f"  metadata column {column} stored as {stored_as}")


@click.command()
@click.argument("index_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--check-recall", is_flag=True, help="Measure recall@10 of the ANN index vs exact.")
@reports_errors
def info(index_dir: Path, as_json: bool, check_recall: bool) -> None:
    """Describe an index: count, failures, encoder, dimension, index type.

    Example:

        medsearch info data/index --json
    """
    from ..search.duplicate_finder import DuplicateFinder
    from ..storage.folder import IndexFolder
    from ..storage.null_scores import load_null_scores
    from ..storage.verify import check_recall as measure_recall

    folder = IndexFolder(index_dir)
    stored = folder.read_info()
    with folder.open_store() as store:
        failures = store.failures()
    data: dict[str, Any] = {
        "count": stored.count,
        "failed": len(failures),
        "encoder": stored.encoder.to_json(),
        "dim": stored.dim,
        "index_type": stored.index_type,
        "metric": stored.metric,
        "search_param": stored.search_param,
        "corpus_root": stored.corpus_root,
        "generation": stored.generation,
        "updated_at": stored.updated_at,
        "versions": dict(stored.versions),
        "failures": failures,
    }
    if stored.rerank_factor is not None:
        data["rerank_factor"] = stored.rerank_factor
    if stored.fidelity is not None:
        data["fidelity"] = dict(stored.fidelity)
    data["group_fields"] = list(stored.group_fields or ())
    null = load_null_scores(folder, stored)
    data["null_scores"] = None if null is None else null.summary()
    with folder.open_store() as store:
        data["duplicate_threshold"] = DuplicateFinder(folder, store).threshold().to_dict()
    if check_recall:
        data["recall"] = measure_recall(index_dir)
    if as_json:
        echo_json(data)
        return
    enc = data["encoder"]
    click.echo(f"index      {index_dir}")
    click.echo(f"images     {data['count']} ({data['failed']} files failed)")
    click.echo(
        f"encoder    {enc['name']} ({enc['family']} family) {enc['model']} (dim {data['dim']})"
    )
    click.echo(f"           fingerprint {enc['fingerprint']}")
    if stored.encoder.random_weights:
        click.echo("           RANDOM WEIGHTS: results are meaningless (test/benchmark model)")
    if stored.fidelity is not None:
        fid = stored.fidelity
        click.echo(
            f"runtime    {fid['runtime']} {fid['precision']}: fidelity to fp32 PyTorch mean "
            f"cosine {fid['mean_cosine']}, minimum {fid['min_cosine']}, top-10 overlap "
            f"{fid['top10_overlap']} on {fid['calibration']}"
        )
    click.echo(f"index type {data['index_type']} (inner product)")
    click.echo(f"corpus     {data['corpus_root']}")
    if stored.group_fields:
        click.echo(f"groups     {', '.join(stored.group_fields)} (one vector per group: --level)")
    click.echo(f"updated    {data['updated_at']} (generation {data['generation']})")
    click.echo(null_lines(data["null_scores"]))
    dup = data["duplicate_threshold"]
    click.echo(f"duplicates cosine >= {dup['threshold']} ({dup['rule']})")
    if check_recall:
        r = data["recall"]
        click.echo(f"recall@{r['k']}  {r['recall_at_k']} over {r['queries']} queries")


def null_lines(null: dict[str, Any] | None) -> str:
    """The lines of ``medsearch info`` about the scores unrelated queries get."""
    if null is None:
        return "null       none recorded (published before MedSearch measured it): no z, no min_z"
    lines = [f"null       scores unrelated queries get on {null['count']} images (z, min_z):"]
    for kind, s in null["samples"].items():
        lines.append(
            f"  {kind:<7}  top-{s['k']} of {s['queries']} queries: {s['scores']} scores, mean "
            f"{s['mean']:.4f}, sd {s['sd']:.4f}, p99 {s['p99']:.4f}; {s['method']}"
        )
    return "\n".join(lines)


@click.command()
@click.argument("index_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option(
    "--deep",
    is_flag=True,
    help="Also read every published byte: index.faiss and vectors.f16 against the checksums "
    "index_info.json records, meta.sqlite with SQLite's integrity check.",
)
@reports_errors
def verify(index_dir: Path, as_json: bool, deep: bool) -> None:
    """Check that every image has exactly one vector and vice versa; exit 1 if not.

    Example:

        medsearch verify data/index --deep
    """
    from ..storage.verify import verify_index

    problems = verify_index(index_dir, deep=deep)
    if as_json:
        echo_json({"ok": not problems, "problems": problems})
    elif problems:
        for problem in problems:
            click.echo(f"problem: {problem}", err=True)
    else:
        click.echo(f"{index_dir}: consistent")
    if problems:
        raise SystemExit(1)
