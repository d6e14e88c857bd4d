"""Ctrl-C and SIGTERM (what schedulers send before preempting) as requests
to stop at the next safe point.

While :func:`deferred` is active, the first SIGINT or SIGTERM only records
itself; the training loop asks :func:`pending` between steps, where the state
is whole, saves a checkpoint and raises :class:`Interrupted`. A second Ctrl-C
interrupts at once.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Iterator

_received: list[int] = []


class Interrupted(Exception):
  """Training stopped on a signal; ``workdirs`` can resume from their checkpoints."""

  def __init__(self, signum: int, message: str):
    super().__init__(message)
    self.signum = signum


def _record(signum: int, frame) -> None:
  if _received and signum == signal.SIGINT:
    raise KeyboardInterrupt
  _received.append(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
  """Defer SIGINT and SIGTERM to :func:`check` for the block (main thread only)."""
  _received.clear()
  previous = {s: signal.signal(s, _record) for s in (signal.SIGINT, signal.SIGTERM)}
  try:
    yield
  finally:
    for s, handler in previous.items():
      signal.signal(s, handler)
    _received.clear()


def pending() -> int | None:
  """The signal received and not yet acted on, if any."""
  return _received[0] if _received else None


def exit_code(signum: int) -> int:
  """The shell's code for a process ended by ``signum``: 128 + its number."""
  return 128 + signum
