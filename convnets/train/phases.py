"""Where a run's wall time goes: seconds per phase, for ``summary.json``.

A run's phases, in order: ``import`` (the process's start to the run's: the
interpreter, JAX, the config; only for the first run of a process, as later
runs of an experiment start long after it), ``data`` (checking the config,
reading and placing the data set), ``compile`` (initialising the state and
compiling the epoch and the evaluation), ``train`` and ``validate`` (every
epoch's training and validation, including the epochs of an interrupted
earlier process of a resumed run), ``test`` and ``outputs`` (variables,
preprocessor and curves, up to ``summary.json``). Pictures are drawn after the
summary and timed in their own log line.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Iterator

_first_run_of_process = True


def process_age() -> float | None:
  """Seconds since this process started, from ``/proc`` (Linux); None elsewhere."""
  try:
    with open("/proc/self/stat") as f:
      # Fields after the command name, which is in parentheses and may hold spaces;
      # the start time (field 22) is in clock ticks since boot.
      fields = f.read().rsplit(")", 1)[1].split()
    with open("/proc/uptime") as f:
      uptime = float(f.read().split()[0])
  except (OSError, IndexError, ValueError):
    return None
  return max(0.0, uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"))


class Phases:
  """Wall seconds of named phases; the first instance of a process also
  records ``import``, the process's age when it is created."""

  def __init__(self) -> None:
    global _first_run_of_process
    self.seconds: dict[str, float] = {}
    age = process_age() if _first_run_of_process else None
    _first_run_of_process = False
    if age is not None:
      self.seconds["import"] = age

  @contextlib.contextmanager
  def phase(self, name: str) -> Iterator[None]:
    """Time the ``with`` block, adding its seconds to phase ``name``."""
    start = time.perf_counter()
    try:
      yield
    finally:
      self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

  def add(self, name: str, seconds: float) -> None:
    """Add ``seconds`` measured elsewhere (e.g. the epochs' own timings) to ``name``."""
    self.seconds[name] = self.seconds.get(name, 0.0) + seconds
