"""An experiment's runs: each variant's seeds trained, resumed or read back,
and the variant's record in ``results.json``.

Runs live in ``W/runs/<variant>/seed<k>/`` (:mod:`convnets.train.workdir`).
A run whose loss went non-finite is *diverged*: it is listed with its status,
counted, and left out of the variant's means and tests.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import jax
from ml_collections import ConfigDict

from convnets import classical, models
from convnets.classical.run import fit_and_test, seeds_to_run
from convnets.describe import count_connections
from convnets.experiment import stats
from convnets.experiment.spec import Variant
from convnets.train import loop, resume
from convnets.train import workdir as workdir_lib
from convnets.train.pipeline import model_input_shape
from convnets.train.records import FINISHED

Log = Callable[[str], None]

# Whether a variant's seeds train together (vmapped in lockstep, one compiled
# program) or one after another. A CPU's few cores are already busy with one
# seed, so stacking seeds makes each epoch slower than the compilations it
# saves (results/benchmarks/seed_grouping_cpu.json, benchmarks/seed_grouping.py);
# accelerators have the parallelism to spare.
SEEDS_TOGETHER = {"cpu": False}


def run_dir(workdir: str, variant: str, seed: int) -> str:
  return os.path.join(workdir, "runs", variant, f"seed{seed}")


def finished_run(folder: str, config: ConfigDict, seed: int) -> dict[str, Any] | None:
  """The summary of the run that finished in ``folder`` with exactly
  ``config`` and ``seed``; None if no run finished there (no ``summary.json``).

  Raises WorkdirError if the finished run was trained with another config, so
  that a resumed experiment never mixes runs of different settings.
  """
  if not os.path.isfile(os.path.join(folder, workdir_lib.SUMMARY)):
    return None
  saved = workdir_lib.read_json(os.path.join(folder, workdir_lib.CONFIG))
  differ = resume.differences(saved, resume.run_config(config, seed))
  if differ:
    raise workdir_lib.WorkdirError(
        f"{folder} holds a finished run trained with another config ({', '.join(differ)} "
        f"differ); resume with the settings it was started with, or choose a new --workdir")
  return workdir_lib.read_json(os.path.join(folder, workdir_lib.SUMMARY))


def with_curves(summary: dict[str, Any], folder: str, read_back: bool) -> dict[str, Any]:
  """A run's entry in ``results.json``: its summary, curves and folder."""
  return {**summary, "curves": workdir_lib.read_jsonl(os.path.join(folder, workdir_lib.METRICS)),
          "workdir": folder, "read_back": read_back}


def train_variant(config: ConfigDict, seeds: Sequence[int], workdir: str, variant: str, *,
                  data: Any, resume_runs: bool, log: Log = print,
                  together: bool | None = None) -> list[dict[str, Any]]:
  """Train ``config`` once per seed; with ``resume_runs``, a run that finished
  with this config is read back and an unfinished one resumes from its
  checkpoint. Seeds train together (vmapped) or one at a time, as
  ``together`` says (None: ``SEEDS_TOGETHER`` for the backend)."""
  if classical.is_method(config.model.name):
    return classical_variant(config, seeds, workdir, variant, data=data,
                             resume_runs=resume_runs, log=log)
  dirs = {seed: run_dir(workdir, variant, seed) for seed in seeds}
  summaries = ({seed: finished_run(dirs[seed], config, seed) for seed in seeds}
               if resume_runs else {})
  done = [seed for seed in seeds if summaries.get(seed) is not None]
  if done:
    log(f"seed{'s' if len(done) > 1 else ''} {', '.join(map(str, done))} finished earlier: "
        f"read back")
  todo = [seed for seed in seeds if seed not in done]
  if together is None:
    together = SEEDS_TOGETHER.get(jax.default_backend(), True)
  groups = [todo] if together and todo else [[seed] for seed in todo]
  for group in groups:
    log(f"seed{'s' if len(group) > 1 else ''} {', '.join(map(str, group))} -> "
        f"{os.path.dirname(dirs[group[0]])}")
    prefix = f"seed {group[0]}: " if len(group) == 1 else ""
    summaries.update(zip(group, loop.train_seeds(config, group, [dirs[s] for s in group],
                                                 data=data, log=lambda l: log(prefix + l))))
  return [with_curves(summaries[seed], dirs[seed], seed in done) for seed in seeds]


def classical_variant(config: ConfigDict, seeds: Sequence[int], workdir: str, variant: str, *,
                      data: Any, resume_runs: bool, log: Log = print) -> list[dict[str, Any]]:
  """:func:`train_variant` for a classical method (``config.model`` names one
  of :mod:`convnets.classical`): fitted and tested once per seed, or with the
  first seed alone when it is deterministic."""
  runs = []
  for seed in seeds_to_run(config, seeds):
    folder = run_dir(workdir, variant, seed)
    summary = finished_run(folder, config, seed) if resume_runs else None
    done = summary is not None
    log(f"seed {seed} finished earlier: read back" if done else f"seed {seed} -> {folder}")
    if not done:
      summary = fit_and_test(config, seed, folder, data=data,
                             log=lambda line, s=seed: log(f"seed {s}: {line}"))
    runs.append(with_curves(summary, folder, done))
  return runs


def read_back(variant: str, config: ConfigDict, seeds: Sequence[int], workdir: str
              ) -> list[dict[str, Any]]:
  """The runs of ``variant`` that finished in ``workdir`` with ``config``
  (for a report over every finished run, whichever variants ran this time)."""
  runs = []
  for seed in seeds:
    folder = run_dir(workdir, variant, seed)
    summary = finished_run(folder, config, seed) if os.path.isdir(folder) else None
    if summary is not None:
      runs.append(with_curves(summary, folder, True))
  return runs


def finished(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
  """The runs that did not diverge (older records have no status: finished)."""
  return [r for r in runs if r.get("status", FINISHED) == FINISHED]


def variant_record(variant: Variant, config: ConfigDict, runs: list[dict[str, Any]],
                   root: str) -> dict[str, Any]:
  """A variant's entry in ``results.json``: settings, size, the spread over
  its finished seeds, how many diverged, and every run."""
  settings = models.settings(config.model)
  ok = finished(runs)
  record = {
      "name": variant.name, "label": variant.label, "family": variant.family,
      "coords": dict(variant.coords), "overrides": dict(variant.overrides),
      "model": config.model.name, "model_kwargs": settings, "epochs": config.epochs,
      "params": runs[0]["params"],
      # A classical method's: the stored numbers each test digit reads (its summary's).
      "connections": (runs[0]["connections"] if classical.is_method(config.model.name) else
                      count_connections(config.model.name, settings, model_input_shape(config))),
      "test_error": stats.spread([r["test_error"] for r in ok]),
      "valid_error": stats.spread([r["valid_error"] for r in ok]),
      "seconds_per_epoch": stats.spread([r["seconds_per_epoch"] for r in runs]),
      "diverged": len(runs) - len(ok),
      "runs": [{**r, "workdir": os.path.relpath(r["workdir"], root)} for r in runs],
  }
  # Where the variant sits on every possible trend axis (spec.MEASURED and its coords).
  record["x"] = {**{key: float(value) for key, value in variant.coords.items()},
                 "params": record["params"], "connections": record["connections"],
                 "seconds_per_epoch": record["seconds_per_epoch"]["mean"]}
  return record
