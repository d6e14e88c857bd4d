"""Helpers for the tests that drive the real command line (``run_experiment.py``
in a subprocess): finished calls, background processes to signal, polling
their files, prepared results to start from, and comparing outcomes.

Every subprocess shares one JAX compilation cache for the pytest session, so
that the many small runs compile each program once; a program read back from
the cache is the one that was compiled, so numbers do not change.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import functools
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "run_experiment.py")
TIMEOUT = 300

# A tiny single run: 3 epochs of 125 steps (1,000 digits, batch 8) with a
# checkpoint every ~0.06 s, so that a kill at any moment can land mid-epoch.
STEPS = 125
TINY = ("--model=mlp_300", "--config.data.train_subset=1000", "--config.epochs=3",
        "--config.batch_size=8", "--config.checkpoint.every_minutes=0.001")
# A tiny experiment: two variants of the lecture ConvNet, 1 epoch on 2,000 digits.
EXPERIMENT = ("--experiment=pooling", "--quick", "--variants=max,avg",
              "--config.checkpoint.every_minutes=0.001", "--config.pictures=False")
EXPERIMENT_VARIANTS = ("max", "avg")

_SCRATCH = tempfile.mkdtemp(prefix="convnets-cli-tests-")
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)
# Unbuffered output: what a killed process printed is not lost with it.
ENV = {**os.environ, "PYTHONUNBUFFERED": "1",
       "JAX_COMPILATION_CACHE_DIR": os.path.join(_SCRATCH, "jax-cache"),
       "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
       "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


def command(*args: str) -> list[str]:
  return [sys.executable, SCRIPT, *args]


def run_cli(*args: str) -> subprocess.CompletedProcess:
  """``run_experiment.py ARGS`` to its end."""
  return subprocess.run(command(*args), capture_output=True, text=True, cwd=ROOT,
                        timeout=TIMEOUT, env=ENV)


def start_cli(*args: str) -> subprocess.Popen:
  """``run_experiment.py ARGS`` in the background (its output piped)."""
  return subprocess.Popen(command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, cwd=ROOT, env=ENV)


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
  """Wait for ``process``; its exit code and output."""
  out, err = process.communicate(timeout=TIMEOUT)
  return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def wait_for(condition: Callable[[], Any], process: subprocess.Popen | None = None,
             timeout: float = 120.0) -> Any:
  """Poll ``condition`` every 5 ms until it is truthy and return it; fail if
  ``process`` ends first or ``timeout`` passes."""
  end = time.monotonic() + timeout
  while time.monotonic() < end:
    value = condition()
    if value:
      return value
    if process is not None and process.poll() is not None:
      done = finish(process)
      raise AssertionError(f"the process ended (exit {done.returncode}) before the awaited "
                           f"point:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    time.sleep(0.005)
  raise AssertionError(f"timed out after {timeout:.0f}s waiting")


def kill(process: subprocess.Popen, signum: int) -> subprocess.CompletedProcess:
  process.send_signal(signum)
  return finish(process)


def committed(folder: str) -> set[tuple[str, int]]:
  """The checkpoints committed anywhere under ``folder``, as (run folder,
  step): Orbax renames a save's temporary folder to its step once it is whole."""
  found = set()
  for parent, dirs, _ in os.walk(folder):
    if os.path.basename(parent) == "checkpoints":
      found |= {(os.path.dirname(parent), int(d)) for d in dirs if d.isdigit()}
      dirs.clear()
  return found


def last_step(workdir: str) -> int:
  """The step of a single run's latest committed checkpoint."""
  return max(step for _, step in committed(workdir))


def resumed_at(step: int, steps: int = STEPS) -> str:
  """Where the resume message says a run goes on from its checkpoint at global ``step``."""
  epoch, done = divmod(step, steps)
  return f"epoch {epoch + 1}, step {done}" if done else f"the end of epoch {epoch}"


def is_timing(key: str) -> bool:
  """A field that measures the machine or the moment, not what was computed."""
  return ("second" in key or key in ("wall_time", "examples_per_second", "total_seconds",
                                     "peak_memory_mb"))


def numbers(record: dict[str, Any]) -> dict[str, Any]:
  return {k: v for k, v in record.items() if not is_timing(k)}


def strict_loads(text: str, where: str) -> Any:
  """JSON ``text``, refusing NaN and Infinity (which strict JSON lacks)."""
  def refuse(constant: str) -> None:
    raise ValueError(f"{where} holds {constant}, which is not JSON")
  return json.loads(text, parse_constant=refuse)


def strict_json(path: str) -> Any:
  with open(path) as f:
    return strict_loads(f.read(), path)


def summary(workdir: str) -> dict[str, Any]:
  return numbers(strict_json(os.path.join(workdir, "summary.json")))


def metrics(workdir: str) -> list[dict[str, Any]]:
  """``metrics.jsonl`` without its timings; every line whole and strict."""
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    text = f.read()
  assert text.endswith("\n"), f"{workdir}/metrics.jsonl ends mid-line"
  return [numbers(strict_loads(line, f"{workdir}/metrics.jsonl")) for line in text.splitlines()]


def run_numbers(workdir: str) -> dict[tuple[str, int], dict[str, Any]]:
  """What ``results.json`` says each run computed (test and validation error,
  curves), by (variant, seed)."""
  results = strict_json(os.path.join(workdir, "results.json"))
  return {(v["name"], r["seed"]): {"test_error": r["test_error"], "valid_error": r["valid_error"],
                                   "curves": [numbers(c) for c in r["curves"]]}
          for v in results["variants"] for r in v["runs"]}


def hashes(*folders: str) -> dict[str, str]:
  """SHA-256 of every file under ``folders`` (locks aside: they record who
  last held them, not results)."""
  out = {}
  for folder in folders:
    for parent, _, files in os.walk(folder):
      for name in files:
        if not name.endswith(".lock"):
          path = os.path.join(parent, name)
          with open(path, "rb") as f:
            out[path] = hashlib.sha256(f.read()).hexdigest()
  return out


def error_line(result: subprocess.CompletedProcess) -> str:
  """The one ``error:`` line a failed command ends with (asserting it is one, with no traceback)."""
  context = f"exit {result.returncode}; stderr:\n{result.stderr[-3000:]}"
  assert result.returncode not in (0, None), context
  assert "Traceback" not in result.stderr, context
  lines = result.stderr.strip().splitlines()
  assert lines and lines[-1].startswith("error: "), context
  return lines[-1]


def succeeded(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
  assert result.returncode == 0, f"exit {result.returncode}:\n{result.stderr[-3000:]}"
  return result


def once(make: Callable[[], str]) -> Callable[[], str]:
  """``make``, run when first asked for (by any thread; the others wait) and remembered."""
  lock, made = threading.Lock(), []

  @functools.wraps(make)
  def get() -> str:
    with lock:
      if not made:
        made.append(make())
    return made[0]
  return get


def overlapped(calls: dict[str, Callable[[], Any]], workers: int
               ) -> dict[str, BaseException | None]:
  """Run ``calls``, ``workers`` at a time (their commands overlap: each is
  mostly Python starting up, or waiting on a subprocess); what each raised,
  None where it returned."""
  def outcome(call: Callable[[], Any]) -> BaseException | None:
    try:
      call()
    except BaseException as e:  # noqa: BLE001  (raised again by the test it belongs to)
      return e
    return None

  with concurrent.futures.ThreadPoolExecutor(workers) as pool:
    return dict(zip(calls, pool.map(outcome, calls.values())))


@once
def finished_run() -> str:
  """A finished tiny run (:data:`TINY`), made once a session; copy it before changing it."""
  workdir = os.path.join(_SCRATCH, "finished-run")
  succeeded(run_cli(f"--workdir={workdir}", *TINY))
  return workdir


@once
def finished_experiment() -> str:
  """A finished tiny experiment (:data:`EXPERIMENT`), made once a session."""
  workdir = os.path.join(_SCRATCH, "finished-experiment")
  succeeded(run_cli(f"--workdir={workdir}", *EXPERIMENT))
  return workdir


REFERENCES = {"reference run": finished_run, "reference experiment": finished_experiment}


def copy(source: str, target: str) -> str:
  shutil.copytree(source, target, symlinks=True)
  return target


def mount_tmpfs(folder: str, options: str) -> Callable[[], None]:
  """Mount a tmpfs with ``options`` on ``folder`` (made if missing); returns
  its unmount. Skips the test where mounting is not permitted."""
  import pytest

  os.makedirs(folder, exist_ok=True)
  done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", folder],
                        capture_output=True, text=True)
  if done.returncode != 0:
    pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
  return lambda: subprocess.run(["umount", "-l", folder], check=False)


def interrupted_line(result: subprocess.CompletedProcess, signum: int) -> str:
  """The one line a clean stop on ``signum`` prints (asserting exit 128 + signum, no traceback)."""
  context = f"exit {result.returncode}; stderr:\n{result.stderr[-3000:]}"
  assert result.returncode == 128 + signum, context
  assert "Traceback" not in result.stderr, context
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1, context
  assert re.match(rf"interrupted: {signal.Signals(signum).name}: ", lines[0]), context
  return lines[0]
