"""``medsearch serve``: run the JSON API (and any plugged-in web page) under waitress.

The ``medsearch`` group imports this command by name (:data:`indexer.cli.FRONT_END_COMMANDS`).
"""

from __future__ import annotations

import logging

import click
from waitress import create_server

from indexer.blas_threads import limit_blas_threads
from indexer.cli.options import reports_errors, settings_from
from indexer.cli.setting_options import setting_options
from indexer.errors import MedSearchError, SettingsError
from indexer.records import random_weights_warning
from search_api.app import create_app
from search_api.indexes import IndexNameError, IndexOpenError, name_index_dirs, open_indexes


@click.command("serve")
@click.argument("index_dirs", metavar="INDEX_DIR...", nargs=-1, required=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 for every interface).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="TCP port to listen on (0 picks a free one).",
)
@setting_options("threads", "runtime", "precision", "onnx_cache", "trust_remote_code")
@reports_errors
def serve(index_dirs: tuple[str, ...], host: str, port: int) -> None:
    """Serve the search API for the indexes in INDEX_DIR... at /api (and the search page at /).

    Each index is named by its folder name, or by NAME in a NAME=DIR argument; requests choose
    one with index=NAME (the first by default). Each model is loaded once, however many indexes
    use it; a newly published version of an index is picked up without a restart. Other
    settings come from MEDSEARCH_* environment variables.

    Example: medsearch serve data/index --port 8000

    Example: medsearch serve ct=data/ct-index xray=data/xray-index
    """
    configure_logging()
    try:
        named_dirs = name_index_dirs(index_dirs)
    except IndexNameError as exc:
        raise click.UsageError(exc.message) from exc
    settings = settings_from(index_dir=named_dirs[0][1])
    limit_blas_threads()
    try:
        indexes = open_indexes(settings, named_dirs)
        app = create_app(settings, indexes=indexes)
    except SettingsError:
        raise
    except IndexOpenError as exc:
        raise click.ClickException(f"cannot serve {exc.folder}: {exc.message}") from exc
    except MedSearchError as exc:
        raise click.ClickException(f"cannot serve: {exc.message}") from exc
    try:
        server = create_server(app, host=host, port=port, threads=settings.threads)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    for (_, folder), served_index in zip(named_dirs, indexes, strict=True):
        if served_index.retriever.info().encoder.random_weights:
            click.echo(random_weights_warning(folder), err=True)
    url_host = f"[{host}]" if ":" in host else host
    served = ", ".join(str(folder) for _, folder in named_dirs)
    click.echo(f"MedSearch is serving {served} on http://{url_host}:{server.effective_port}/")
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.close()


def configure_logging() -> None:
    """Warnings from every library; our own and waitress's notices too (reloads, startup)."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in ("search_api", "waitress"):
        logging.getLogger(name).setLevel(logging.INFO)
