"""Ctrl-C and SIGTERM (what schedulers send before preempting) as requests
to stop at the next safe point.

While :func:`deferred` is active, the first SIGINT or SIGTERM only records
itself; the training loop asks :func:`pending` between steps, where the state
is whole, saves a checkpoint and raises :class:`Interrupted`. A second Ctrl-C
interrupts at once. Blocks of :func:`deferred` nest (an experiment defers for
all its runs, each run for its own), so a signal that arrives between two
runs is not lost with the first run's block: the next run stops before it
starts (:func:`stop_if_pending`). One that arrives as a run tests and writes
its results lets it finish them.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Iterator

_received: list[int] = []
_depth = 0  # deferred() blocks open


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
  """Defer SIGINT and SIGTERM to :func:`pending` for the block (main thread
  only); an inner block leaves the outer one's handlers and signals be."""
  global _depth
  outermost = _depth == 0
  if outermost:
    _received.clear()
    previous = {s: signal.signal(s, _record) for s in (signal.SIGINT, signal.SIGTERM)}
  _depth += 1
  try:
    yield
  finally:
    _depth -= 1
    if outermost:
      for s, handler in previous.items():
        signal.signal(s, handler)
      _received.clear()


def pending() -> int | None:
  """The signal received and not yet acted on, if any."""
  return _received[0] if _received else None


def stop_if_pending(where: str) -> None:
  """Raise :class:`Interrupted` if a signal is pending, saying the command
  stopped ``where`` (a safe point: no run is half-way)."""
  signum = pending()
  if signum is not None:
    raise Interrupted(signum, f"{signal.Signals(signum).name}: stopped {where}")


def exit_code(signum: int) -> int:
  """The shell's code for a process ended by ``signum``: 128 + its number."""
  return 128 + signum
