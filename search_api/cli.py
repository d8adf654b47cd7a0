"""``medsearch serve``: run the JSON API (and any plugged-in web page) under waitress.

The ``medsearch`` group imports this command by name (:data:`indexer.cli.FRONT_END_COMMANDS`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import click
from waitress import create_server

from indexer.cli.options import reports_errors, settings_from, trust_remote_code_option
from indexer.errors import MedSearchError, SettingsError
from search_api.app import create_app


@click.command("serve")
@click.argument("index_dir", type=click.Path(path_type=Path, file_okay=False))
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
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Request threads [default: MEDSEARCH_THREADS or 8].",
)
@trust_remote_code_option
@reports_errors
def serve(
    index_dir: Path, host: str, port: int, threads: int | None, trust_remote_code: bool
) -> None:
    """Serve the search API for the index in INDEX_DIR at /api (and the search page at /).

    The model is loaded once; a newly published index in INDEX_DIR is picked up without a
    restart. Other settings come from MEDSEARCH_* environment variables.

    Example: medsearch serve data/index --port 8000
    """
    configure_logging()
    settings = settings_from(
        index_dir=index_dir, threads=threads, trust_remote_code=trust_remote_code or None
    )
    try:
        app = create_app(settings)
    except SettingsError:
        raise
    except MedSearchError as exc:
        raise click.ClickException(f"cannot serve {index_dir}: {exc.message}") from exc
    try:
        server = create_server(app, host=host, port=port, threads=settings.threads)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    url_host = f"[{host}]" if ":" in host else host
    click.echo(f"MedSearch is serving {index_dir} on http://{url_host}:{server.effective_port}/")
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
