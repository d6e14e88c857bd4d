"""Fault tolerance through the real command line: runs and experiments
stopped at random points resume to the numbers of uninterrupted ones,
divergence is a status, one process writes a run, and ``--overwrite`` keeps
the old results until the new ones are whole.

Each scenario below drives ``run_experiment.py`` in subprocesses and asserts
what its docstring says. They run side by side, ``WORKERS`` at a time, in a
module fixture (their commands are mostly Python starting up and waiting on
one another); ``test_fault_scenario`` raises each one's own failure.
"""

from __future__ import annotations

import functools
import json
import os
import random
import signal
import subprocess
import time

import pytest

from tests.cli_runs import (EXPERIMENT, EXPERIMENT_VARIANTS, REFERENCES, TINY, committed, copy,
                            error_line, finish, finished_experiment, finished_run, hashes,
                            interrupted_line, kill, last_step, metrics, overlapped, resumed_at,
                            run_cli, run_numbers, start_cli, strict_json, succeeded, summary,
                            wait_for)

WORKERS = 3
MAX_RUN = os.path.join("runs", "max", "seed0")  # the experiment's first run
RESUMING = "resuming the unfinished run from its checkpoint at "
# Plain SGD at a constant learning rate (to be chosen far too large).
DIVERGE = ("--config.optimizer.name=sgd", "--config.optimizer.schedule=constant")


def stop_at_random(args: tuple[str, ...], workdir: str, signum: int, rng: random.Random,
                   commits: int) -> subprocess.CompletedProcess:
  """Start ``run_experiment.py ARGS`` and send it ``signum`` at a random
  point: 0 to 50 ms after its k-th new checkpoint is committed (within an
  epoch or at its end), k drawn from 1 to ``commits``."""
  before = committed(workdir)
  process = start_cli(*args)
  k, seen = rng.randint(1, commits), set()

  def kth_commit() -> bool:
    seen.update(committed(workdir) - before)  # each lives until the save after next
    return len(seen) >= k

  wait_for(kth_commit, process)
  time.sleep(rng.uniform(0.0, 0.05))
  return kill(process, signum)


def run_stopped_twice_resumes_to_the_same_numbers(tmp: str) -> None:
  """A tiny run stopped by SIGTERM at a seeded random point exits 143 with one
  line saying where it stopped (and no traceback); the same command again
  resumes there, is killed by SIGKILL at another random point (no chance to
  save: it goes back to its last checkpoint) and, run once more, finishes with
  the summary and metrics of a run never interrupted."""
  rng = random.Random(17)
  workdir = os.path.join(tmp, "run")
  args = (f"--workdir={workdir}", *TINY)
  stopped = stop_at_random(args, workdir, signal.SIGTERM, rng, commits=3)
  where = resumed_at(last_step(workdir))
  assert f"stopped at {where}" in interrupted_line(stopped, signal.SIGTERM)
  killed = stop_at_random(args, workdir, signal.SIGKILL, rng, commits=2)
  assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
  assert RESUMING + where in killed.stdout
  where = resumed_at(last_step(workdir))
  assert RESUMING + where in succeeded(run_cli(*args)).stdout
  assert summary(workdir) == summary(finished_run())
  assert metrics(workdir) == metrics(finished_run())


def experiment_stopped_twice_resumes_to_the_same_results(tmp: str) -> None:
  """A tiny experiment sent SIGTERM as its first run finishes (between two
  runs) stops before the next with exit 143 and one line; resumed with
  ``--resume`` it is killed by SIGKILL at a random point of its unfinished
  run; resumed once more it reads back the runs that had finished, trains the
  rest, and every run's errors and curves in ``results.json`` are an
  uninterrupted experiment's."""
  rng = random.Random(3)
  workdir = os.path.join(tmp, "experiment")
  args = (f"--workdir={workdir}", *EXPERIMENT)
  first = start_cli(*args)
  wait_for(lambda: os.path.exists(os.path.join(workdir, MAX_RUN, "summary.json")), first)
  line = interrupted_line(kill(first, signal.SIGTERM), signal.SIGTERM)
  assert line.endswith("(with --resume)")
  killed = stop_at_random((*args, "--resume"), workdir, signal.SIGKILL, rng, commits=2)
  assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
  finished = {name for name in EXPERIMENT_VARIANTS
              if os.path.exists(os.path.join(workdir, "runs", name, "seed0", "summary.json"))}
  succeeded(run_cli(*args, "--resume"))
  results = strict_json(os.path.join(workdir, "results.json"))
  assert {v["name"] for v in results["variants"] if v["runs"][0]["read_back"]} == finished
  assert run_numbers(workdir) == run_numbers(finished_experiment())


def diverged_run_fails_in_one_line_and_says_so_in_strict_json(tmp: str) -> None:
  """A run whose loss goes non-finite exits non-zero with one ``error:`` line
  naming its workdir; its summary is strict JSON (no NaN) with status
  ``diverged`` and no test numbers, and its records stop at that epoch."""
  workdir = os.path.join(tmp, "run")
  result = run_cli(f"--workdir={workdir}", "--model=mlp_300", "--config.data.train_subset=1000",
                   "--config.epochs=3", *DIVERGE, "--config.optimizer.learning_rate=1e8")
  line = error_line(result)
  assert "the run diverged at epoch 1" in line and workdir in line
  written = strict_json(os.path.join(workdir, "summary.json"))
  assert written["status"] == "diverged" and written["diverged_epoch"] == 1
  assert written["test_error"] is None and written["test_accuracy"] is None
  assert [record["epoch"] for record in metrics(workdir)] == [1]


def diverged_seed_is_counted_and_left_out_of_its_variants_mean(tmp: str) -> None:
  """In an experiment, a seed that diverges is listed with its status, counted
  in its variant's ``diverged`` and left out of the variant's mean, which is
  then the other seed's error. (At this learning rate seed 1 diverges from
  3e5 on and seed 2 survives up to 1e7: the outcome does not hang on rounding.)"""
  workdir = os.path.join(tmp, "experiment")
  succeeded(run_cli(f"--workdir={workdir}", "--experiment=depth", "--quick", "--variants=mlp1",
                    "--seeds=2", "--config.seed=1", *DIVERGE,
                    "--config.optimizer.learning_rate=1e6"))
  [variant] = strict_json(os.path.join(workdir, "results.json"))["variants"]
  runs = {run["seed"]: run for run in variant["runs"]}
  assert {seed: run["status"] for seed, run in runs.items()} == {1: "diverged", 2: "finished"}
  assert runs[1]["test_error"] is None and runs[2]["test_error"] is not None
  assert variant["diverged"] == 1
  assert variant["test_error"] == {"mean": runs[2]["test_error"], "std": None, "n": 1}


def second_process_on_a_run_is_refused_while_the_first_finishes(tmp: str) -> None:
  """Of two processes started on one run, the one that takes the lock is held
  there (stopped) while the other is refused in one line naming the holder's
  process and the lock's path; the holder then finishes, its numbers intact."""
  workdir = os.path.join(tmp, "run")
  lock = os.path.join(workdir, ".lock")
  processes = [start_cli(f"--workdir={workdir}", *TINY) for _ in range(2)]

  def holder() -> subprocess.Popen | None:
    text = open(lock).read() if os.path.exists(lock) else ""
    return next((p for p in processes if text.startswith(f"process {p.pid} on ")), None)

  first = wait_for(holder)
  [second] = [p for p in processes if p is not first]
  first.send_signal(signal.SIGSTOP)
  try:
    line = error_line(finish(second))
  finally:
    first.send_signal(signal.SIGCONT)
  assert f"{workdir} is being trained by process {first.pid} on " in line
  assert f"(lock {lock})" in line
  succeeded(finish(first))
  assert summary(workdir) == summary(finished_run())


def disjoint_variants_of_one_experiment_both_finish(tmp: str) -> None:
  """Two processes training different variants of one experiment into the same
  workdir with ``--resume`` both finish, and the last report covers both
  variants, each with an uninterrupted experiment's numbers."""
  workdir = os.path.join(tmp, "experiment")
  shared = [arg for arg in EXPERIMENT if not arg.startswith("--variants=")]
  processes = [start_cli(f"--workdir={workdir}", *shared, f"--variants={name}", "--resume")
               for name in EXPERIMENT_VARIANTS]
  for process in processes:
    succeeded(finish(process))
  assert run_numbers(workdir) == run_numbers(finished_experiment())


def overwrite_keeps_the_old_results_until_the_new_run_has_finished(tmp: str) -> None:
  """``--overwrite`` on a finished run killed part-way leaves the old results,
  byte for byte, in ``WORKDIR.replaced``; run again, the new run resumes,
  finishes, replaces them, and ``WORKDIR.replaced`` is gone."""
  workdir = copy(finished_run(), os.path.join(tmp, "run"))
  aside = workdir + ".replaced"
  old = {os.path.relpath(path, workdir): h for path, h in hashes(workdir).items()}
  args = (f"--workdir={workdir}", *TINY, "--config.seed=1", "--overwrite")
  process = start_cli(*args)

  def new_run_checkpointed() -> bool:
    try:
      with open(os.path.join(workdir, "config.json")) as f:
        started = json.load(f)["seed"] == 1  # the old run is aside, the new one begun
    except FileNotFoundError:  # while the old run is set aside
      return False
    return started and bool(committed(workdir))

  wait_for(new_run_checkpointed, process)
  assert kill(process, signal.SIGKILL).returncode == -signal.SIGKILL
  assert {os.path.relpath(path, aside): h for path, h in hashes(aside).items()} == old
  assert RESUMING in succeeded(run_cli(*args)).stdout
  assert not os.path.exists(aside)
  assert summary(workdir)["seed"] == 1 and summary(workdir) != summary(finished_run())


# Longest first, so that the short ones fill in beside them.
SCENARIOS = (experiment_stopped_twice_resumes_to_the_same_results,
             run_stopped_twice_resumes_to_the_same_numbers,
             disjoint_variants_of_one_experiment_both_finish,
             overwrite_keeps_the_old_results_until_the_new_run_has_finished,
             second_process_on_a_run_is_refused_while_the_first_finishes,
             diverged_seed_is_counted_and_left_out_of_its_variants_mean,
             diverged_run_fails_in_one_line_and_says_so_in_strict_json)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, BaseException | None]:
  """Every scenario run, once the reference runs they compare with are made
  (side by side: they compile the programs the scenarios then read back from
  the shared compilation cache, rather than each compiling them again)."""
  overlapped(REFERENCES, len(REFERENCES))
  calls = {s.__name__: functools.partial(s, str(tmp_path_factory.mktemp("scenario")))
           for s in SCENARIOS}
  return overlapped(calls, WORKERS)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_fault_scenario(scenario, outcomes):
  """The scenario holds (see its docstring)."""
  error = outcomes[scenario.__name__]
  if error is not None:
    raise error
