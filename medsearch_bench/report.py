"""The figures of each benchmark as lines of text: a summary line or two and an aligned table.

Each function takes the dict its benchmark returns (the same the commands print with --json)
and gives the lines ``medsearch bench`` prints without it.
"""

from __future__ import annotations

from typing import Any


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """``rows`` under ``header`` in left-aligned columns, with a rule below the header."""
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def corpus_lines(summary: dict[str, Any]) -> list[str]:
    """What ``bench corpus`` wrote: files, size, formats and raster sizes."""
    return [
        f"wrote {summary['files']} files ({summary['bytes'] / 2**20:.0f} MiB) to {summary['out']}",
        "  formats: " + ", ".join(f"{k} {v}" for k, v in summary["formats"].items()),
        "  raster sizes: " + ", ".join(f"{k}px {v}" for k, v in summary["raster_sizes"].items()),
    ]


def fidelity_note(fidelity: dict[str, str] | None) -> str:
    """The guard's figures of a reduced-precision runtime, after a header; nothing otherwise."""
    if not fidelity:
        return ""
    return (
        f" ({fidelity['runtime']} runtime); fidelity to fp32: mean cosine "
        f"{fidelity['mean_cosine']}, minimum {fidelity['min_cosine']}, top-10 overlap "
        f"{fidelity['top10_overlap']}"
    )


def index_lines(result: dict[str, Any]) -> list[str]:
    """The three indexing rates of ``bench index``, their ratios and the machine's speed."""
    header = (
        f"{result['images']} images, {result['precision']} on {result['device']}"
        f"{' (compiled)' if result['compiled'] else ''}, "
        f"batch {result['batch_size']}, {result['workers']} workers"
    ) + fidelity_note(result.get("fidelity"))
    rates = table(
        ["path", "images/s (best run)", "ratio of best runs", "ratio per repeat"],
        [
            ["pipeline (end to end)", result["images_per_s"], "", ""],
            [
                "model only (pre-decoded)",
                result["model_only_images_per_s"],
                f"pipeline = {result['pipeline_vs_model_only']} x",
                ", ".join(map(str, result["pipeline_vs_model_only_per_run"])),
            ],
            [
                "model card recipe (fp32, 1 by 1)",
                result["reference_images_per_s"],
                f"pipeline = {result['pipeline_vs_reference']} x",
                ", ".join(map(str, result["pipeline_vs_reference_per_run"])),
            ],
        ],
    )
    return [
        header,
        *rates,
        f"decode + preprocess: {result['decode_preprocess_ms_per_image']} ms/image (one thread)",
        speed_probe_line(result),
        f"the same product in fp32 (the recipe's precision): {result['fp32_probe_gflops']} GFLOP/s",
        *(_slices_lines(result["slices"]) if "slices" in result else []),
    ]


def _slices_lines(slices: dict[str, Any]) -> list[str]:
    """Every slice against ``--slices N`` per series (the fastest run of each)."""
    rows = [
        [name, run["embedded"], run["slices_left_out"], run["seconds"]]
        for name, run in (("all", slices["all"]), (str(slices["per_series"]), slices["sampled"]))
    ]
    return [
        *table(["--slices", "images embedded", "slices left out", "wall time (s)"], rows),
        f"--slices {slices['per_series']}: {slices['wall_time_ratio']} x the wall time, "
        f"{slices['embedded_ratio']} x the images embedded",
    ]


def speed_probe_line(result: dict[str, Any]) -> str:
    """The speed probe taken before and after a benchmark."""
    before, after = result["speed_probe_gflops"]
    return f"machine speed probe (matrix product): {before} GFLOP/s before, {after} after"


def query_lines(result: dict[str, Any]) -> list[str]:
    """Latency per phase of ``bench query``, the server's memory and the machine's speed."""
    header = (
        f"{result['count']:,} vectors ({result['index_type']}), {result['precision']} on "
        f"{result['device']}, k={result['k']}"
    ) + fidelity_note(result.get("fidelity"))
    rows = [
        [
            name,
            phase["n"],
            phase["p50_ms"],
            phase["p95_ms"],
            phase["p99_ms"],
            phase.get("embed_p50_ms", ""),
            phase.get("search_p50_ms", ""),
            phase.get("server_p50_ms", ""),
            phase.get("qps", ""),
            phase.get("errors", ""),
        ]
        for name, phase in result["phases"].items()
    ]
    phases = table(
        ["phase", "n", "p50 ms", "p95 ms", "p99 ms", "embed", "search", "server", "q/s", "err"],
        rows,
    )
    return [
        header,
        *phases,
        f"server: RSS {result['server_rss_mb']} MiB (peak {result['server_peak_rss_mb']} MiB), "
        f"started in {result['server_startup_s']} s",
        speed_probe_line(result),
    ]


def checkpoint_lines(result: dict[str, Any]) -> list[str]:
    """Each checkpoint of ``bench checkpoint``: its rows' writing and its publication."""
    return table(
        ["images before", "write s", "ms per batch of 32", "publish s", "index type"],
        [
            [
                f"{step['images_before']:,}",
                step["write_seconds"],
                step["write_ms_per_batch"],
                step["publish_seconds"],
                step["index_type"],
            ]
            for step in result["checkpoints"]
        ],
    )


def scale_lines(result: dict[str, Any]) -> list[str]:
    """Build time, recall, latency and memory of ``bench scale``, then its served side."""
    return table(
        ["figure", "value"],
        [
            ["vectors", f"{result['n']:,} x {result['dim']}"],
            [
                f"index type ({result['index_type_requested']})",
                f"{result['index_type']} (search param {result['search_param']})",
            ],
            ["build", f"{result['build_seconds']} s"],
            ["recall@10 (held-out queries)", result["recall_at_10"]],
            ["recall@10 (random directions)", result["recall_at_10_random_queries"]],
            ["search p50 / p99", f"{result['search_p50_ms']} / {result['search_p99_ms']} ms"],
            ["Retriever.search p50", f"{result['retriever_search_p50_ms']} ms"],
            ["exact search p50", f"{result['exact_search_p50_ms']} ms"],
            ["peak RSS", f"{result['peak_rss_mb']} MiB (build {result['build_peak_rss_mb']})"],
            ["index memory (loaded)", f"{result['index_memory_mb']} MiB"],
            *_served_rows(result),
        ],
    )


def _served_rows(result: dict[str, Any]) -> list[list[Any]]:
    if "http_skipped" in result:
        return [["HTTP", result["http_skipped"]]]

    def p50_p99(name: str) -> str:
        return f"{result[f'{name}_p50_ms']} / {result[f'{name}_p99_ms']} ms"

    return [
        [
            "serve RSS (peak)",
            f"{result['serve_rss_mb']} MiB ({result['serve_peak_rss_mb']}); "
            f"anonymous {result['serve_rss_anon_mb']}, mapped files {result['serve_rss_file_mb']}",
        ],
        [
            "serve startup (first query answered; vector file checked)",
            f"{result['serve_startup_s']} s ({result['serve_ready_s']} s; "
            f"{result['serve_checked_s']} s)",
        ],
        [
            "HTTP text p50 / p99 while the vector file is checked",
            f"{p50_p99('http_text_during_check')} "
            f"({result['http_text_during_check_queries']} queries)",
        ],
        ["HTTP text p50 / p99", p50_p99("http_text")],
        ["HTTP text, 1% filter p50 / p99", p50_p99("http_filter_1pct")],
        ["HTTP text, 50% filter p50 / p99", p50_p99("http_filter_50pct")],
        [
            "first filtered query (1% / 50%)",
            f"{result['http_filter_1pct_first_ms']} / {result['http_filter_50pct_first_ms']} ms",
        ],
        [
            "HTTP facets p50 (first)",
            f"{result['http_facets_p50_ms']} ms ({result['http_facets_first_ms']})",
        ],
        ["HTTP image record p50 / p99", p50_p99("http_record")],
        ["HTTP errors", result["http_errors"]],
    ]


def precision_lines(result: dict[str, Any]) -> list[str]:
    """Cosines of reduced-precision vs fp32 embeddings from ``bench precision``."""
    return table(
        ["what", "n", "cosine min", "cosine mean"],
        [
            ["images", result["images"], result["image_cosine_min"], result["image_cosine_mean"]],
            ["texts", result["texts"], result["text_cosine_min"], result["text_cosine_mean"]],
        ],
    )


def verdict(passed: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if passed else "FAIL"


def soak_lines(result: dict[str, Any]) -> list[str]:
    """Windows, memory, publishes and the verdict on each target of ``bench soak``."""
    verdicts = result["verdicts"]
    windows = table(
        ["window from", "requests", "errors", "p50 ms", "p99 ms", "server RSS MiB"],
        [
            [
                f"{w['start_s']:g} s",
                w["requests"],
                w["errors"],
                w["p50_ms"],
                w["p99_ms"],
                w["rss_mb"],
            ]
            for w in result["windows"]
        ],
    )
    return [
        f"{result['requests']:,} requests from {result['clients']} clients in "
        f"{result['duration_s']:g} s ({result['qps']} req/s), {result['publishes']} publishes "
        f"({result['images_before']} -> {result['images_after']} images)",
        *windows,
        f"{verdict(verdicts['no_errors'])}  errors: {result['errors']} requests, "
        f"{result['failed_publishes']} publishes (target 0)",
        f"{verdict(verdicts['p99_stable'])}  p99 last / first window: {result['p99_ratio']} "
        "(target <= 1.5)",
        f"{verdict(verdicts['rss_stable'])}  server RSS {result['rss_start_mb']} MiB after warm-up "
        f"-> {result['rss_end_mb']} MiB at the end: {result['rss_growth']} (target <= 0.05)",
        *[f"  error: {example}" for example in result["error_examples"]],
    ]


def fuzz_lines(result: dict[str, Any]) -> list[str]:
    """Outcomes of ``bench fuzz`` per mutation, the verdict and the failing cases."""
    outcomes = ("decoded", "typed_error", "untyped_error", "crash", "hang")
    rows = [
        [name, *(counts.get(outcome, 0) for outcome in outcomes)]
        for name, counts in result["by_mutation"].items()
    ]
    failing = [
        f"  case {case['case']} ({case['source']}, {case['mutation']}): {case['outcome']} "
        f"{case.get('error', '')}"
        for case in result["failing"]
    ]
    return [
        f"{result['files']} files (seed {result['seed']}) in {result['seconds']} s, "
        f"{result['workers']} decoders capped at {result['time_limit_s']:g} s and "
        f"{result['memory_limit_mb']} MiB each",
        *table(["mutation", "decoded", "typed error", "other error", "crash", "hang"], rows),
        f"slowest file {result['max_seconds']} s, decoder peak RSS "
        f"{result['worker_peak_rss_mb']} MiB",
        f"{verdict(result['passed'])}  crashes {result['crashes']}, hangs {result['hangs']}, "
        f"other errors {result['untyped_errors']} (target 0 each)",
        *failing,
    ]
