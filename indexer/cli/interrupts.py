"""Stopping a long command cleanly on Ctrl-C (SIGINT) or SIGTERM.

While :func:`stopping_on_signals` is active, the first signal only sets an event that the running
work checks between batches (``medsearch index`` then writes the batch in flight, publishes what is
committed and says so); a second one stops at once, as an unhandled Ctrl-C would, which is still
safe since every batch is committed whole. An interrupted command exits with the status a shell
gives a process the signal killed: 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

import click

#: the signals that ask a command to stop
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class StopRequest:
    """Whether, and by which signal, the command was asked to stop."""

    event: threading.Event = field(default_factory=threading.Event)
    signum: int | None = None

    @property
    def exit_code(self) -> int:
        """The exit status of a command this request stopped (128 + the signal's number)."""
        return 128 + (self.signum or signal.SIGINT)


@contextmanager
def stopping_on_signals(notice: str) -> Iterator[StopRequest]:
    """Turn the first SIGINT or SIGTERM into a stop request (``notice`` is printed on stderr);
    the previous handlers are back afterwards."""
    request = StopRequest()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if request.event.is_set():
            raise KeyboardInterrupt  # asked twice: stop now
        request.signum = signum
        request.event.set()
        click.echo(f"\n{notice} (press Ctrl-C again to stop at once)", err=True)

    previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
