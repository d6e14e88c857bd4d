"""What a run records: one JSON line per epoch, the summary, the outputs.

Layout of a run's folder: :mod:`convnets.train.workdir`.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import time
from typing import Any, Callable, Sequence

import jax
import numpy as np
from ml_collections import ConfigDict

from convnets import models
from convnets.data import Split
from convnets.train import workdir as workdir_lib
from convnets.train.early_stopping import EarlyStopping
from convnets.train.pipeline import save_preprocessor


@dataclasses.dataclass(frozen=True)
class EpochTiming:
  """Wall-clock seconds of one epoch, shared by the seeds trained in it."""
  train: float
  evaluate: float
  examples: int  # training examples per seed


def epoch_records(epoch: int, totals: dict[str, np.ndarray], valid: list[dict[str, float]],
                  test: list[dict[str, float]] | None, learning_rate: float,
                  timing: EpochTiming) -> list[dict[str, Any]]:
  """One ``metrics.jsonl`` record per seed for ``epoch``; ``totals`` are the
  training metric sums (a value per seed), ``valid`` and ``test`` the
  evaluations (``test`` only for time-to-accuracy benchmarks)."""
  seeds = len(valid)
  records = []
  for i in range(seeds):
    record = {
        "epoch": epoch,
        "train_loss": float(totals["loss"][i] / totals["count"][i]),
        "train_accuracy": float(totals["correct"][i] / totals["count"][i]),
        "valid_loss": valid[i]["loss"],
        "valid_accuracy": valid[i]["accuracy"],
        "learning_rate": learning_rate,
        "epoch_seconds": timing.train / seeds,
        "eval_seconds": timing.evaluate / seeds,
        "examples_per_second": seeds * timing.examples / timing.train,
        "wall_time": time.time(),
    }
    if test is not None:
      record["test_accuracy"] = test[i]["accuracy"]
    records.append(record)
  return records


def epoch_line(epoch: int, epochs: int, records: Sequence[dict[str, Any]],
               timing: EpochTiming) -> str:
  """The progress line of an epoch (means over the seeds trained together)."""
  mean = lambda key: float(np.mean([r[key] for r in records]))
  together = " (mean of seeds)" if len(records) > 1 else ""
  return (f"epoch {epoch:3d}/{epochs}  loss {mean('train_loss'):.4f}  "
          f"acc {mean('train_accuracy'):.4f}  valid loss {mean('valid_loss'):.4f}  "
          f"valid acc {mean('valid_accuracy'):.4f}{together}  {timing.train:.1f}s "
          f"({len(records) * timing.examples / timing.train:,.0f} ex/s)")


def peak_memory_mb() -> float:
  """Peak memory so far: the accelerator's when it reports it, else the
  process's resident set (CPU)."""
  stats = jax.local_devices()[0].memory_stats() or {}
  if "peak_bytes_in_use" in stats:
    return stats["peak_bytes_in_use"] / 2**20
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


Log = Callable[[str], None]
FINISHED, DIVERGED = "finished", "diverged"
CURVES = "curves.png"


def summary(*, config: ConfigDict, seed: int, history: Sequence[dict[str, Any]],
            chosen: dict[str, Any], test: dict[str, float], facts: dict[str, Any],
            diverged_epoch: int) -> dict[str, Any]:
  """``summary.json`` of one seed: its ``status``, the tested numbers, those
  of the ``chosen`` epoch's record (the last, or the best when stopping
  early) and the run's ``facts`` (parameters, timings, platform, ...). A run
  that diverged (``diverged_epoch > 0``) has no numbers: they are None."""
  diverged = diverged_epoch > 0
  number = lambda value: None if diverged else value
  return {
      "status": DIVERGED if diverged else FINISHED,
      "diverged_epoch": diverged_epoch or None,
      "model": config.model.name,
      "model_kwargs": models.settings(config.model),
      "epochs": len(history),
      "seed": seed,
      "test_accuracy": number(test["accuracy"]),
      "test_error": number(1.0 - test["accuracy"]),
      "test_loss": number(test["loss"]),
      "valid_accuracy": number(chosen["valid_accuracy"]),
      "valid_error": number(1.0 - chosen["valid_accuracy"]),
      "train_accuracy": number(chosen["train_accuracy"]),
      **facts,
  }


def result_line(result: dict[str, Any]) -> str:
  """A seed's outcome in one line, printed before any of its files is written."""
  if result["status"] == DIVERGED:
    return (f"seed {result['seed']} diverged at epoch {result['diverged_epoch']} (non-finite "
            "loss): no test numbers")
  return (f"seed {result['seed']} tested: accuracy {result['test_accuracy']:.4f} (error "
          f"{100 * result['test_error']:.2f}%), valid accuracy {result['valid_accuracy']:.4f}")


def stopping_fields(stopping: EarlyStopping, i: int, epochs_run: int) -> dict[str, Any]:
  """Seed ``i``'s early-stopping fields of its summary."""
  return {"early_stopping_patience": stopping.patience,
          "best_epoch": int(stopping.best_epoch[i]),
          "stopped_epoch": int(stopping.stopped_epoch[i] or epochs_run),
          "stopped_early": bool(stopping.stopped_epoch[i])}


def curves_title(result: dict[str, Any]) -> str:
  """The title of a run's ``curves.png``, from its summary."""
  outcome = ("diverged" if result.get("status") == DIVERGED
             else f"test error {100 * result['test_error']:.2f}%")
  return f"{result['model']}, seed {result['seed']}: {outcome}"


def write_outputs(workdir: str, *, variables: Any,
                  preprocess_state: dict[str, np.ndarray]) -> None:
  """A finished run's files before its summary: variables and preprocessor."""
  workdir_lib.save_variables(workdir, jax.device_get(variables))
  save_preprocessor(workdir, preprocess_state)


def write_summary(workdir: str, result: dict[str, Any]) -> None:
  """``summary.json``, written after the variables, as its presence marks the
  run finished."""
  workdir_lib.write_json(os.path.join(workdir, "summary.json"), result)


def write_figures(workdir: str, *, config: ConfigDict, result: dict[str, Any],
                  history: Sequence[dict[str, Any]], test: Split, class_names: Sequence[str],
                  predictions: np.ndarray | None, log: Log) -> None:
  """A finished run's figures, after its summary (they are derived from its
  records): the learning curves, and the pictures of
  :mod:`convnets.train.inspection` from its ``(N,)`` ``predictions`` on the
  ``test`` split (None: predicted again from the saved variables). No
  pictures for a diverged run, which has no predictions worth drawing, or
  with ``config.pictures`` off."""
  # Imported here: matplotlib is not needed before the summary; inspection reads runs
  # back through convnets.experiment.trained, which imports this package.
  from convnets.train import inspection
  from convnets.train.plots import plot_curves

  plot_curves(history, os.path.join(workdir, CURVES), curves_title(result))
  if result["status"] == DIVERGED or not config.pictures:
    return
  start = time.perf_counter()
  written = inspection.write_pictures(workdir, images=test.images, labels=test.labels,
                                      class_names=class_names, predictions=predictions)
  log(f"pictures: {', '.join(written)} ({time.perf_counter() - start:.1f}s)")


def start_line(config: ConfigDict, *, params: int, examples: tuple[int, int, int], steps: int,
               seeds: Sequence[int], devices: int, loop: str) -> str:
  """The line a run starts with: what trains on what, how."""
  train, valid, test = examples
  opt = config.optimizer
  return (f"{config.model.name}: {params:,} parameters; {train:,} train / {valid:,} valid / "
          f"{test:,} test examples; {config.epochs} epochs of {steps} steps (batch "
          f"{config.batch_size}, {opt.name} lr {opt.learning_rate:g} {opt.schedule}); "
          f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}; "
          f"{jax.default_backend()} x{devices}, loop={loop}")

