"""``python -m indexer`` runs the ``medsearch`` command."""

from .cli import main

main()
