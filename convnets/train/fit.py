"""A run's epochs: train, validate, record, stop early or on divergence,
checkpoint, and stop cleanly on Ctrl-C or SIGTERM.

Progress is a :class:`~convnets.train.checkpoints.Snapshot`, fresh or read
back from a checkpoint, so an interrupted run goes on exactly where it was.
A seed whose loss goes non-finite has *diverged*: it stops there (its later
epochs are not recorded) while any seeds in lockstep with it go on.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import time
from typing import TYPE_CHECKING, Any, Callable, Sequence

import jax
import numpy as np
from ml_collections import ConfigDict

from convnets.train import records
from convnets.train import workdir as workdir_lib
from convnets.train.checkpoints import Checkpoints, Snapshot
from convnets.train.early_stopping import EarlyStopping, keep_best
from convnets.train.epochs import Progress
from convnets.train.interrupts import Interrupted, pending
from convnets.train.pipeline import Pipeline
from convnets.train.placement import Lockstep

if TYPE_CHECKING:  # tensorboardX is imported only by runs that write TensorBoard files
  from convnets.train.tensorboard import EventWriter

Log = Callable[[str], None]


@dataclasses.dataclass
class Fit:
  """What the epoch loop works with (``trainer``: :class:`convnets.train.loop.Trainer`)."""
  config: ConfigDict
  trainer: Any
  pipeline: Pipeline
  lockstep: Lockstep
  workdirs: Sequence[str]
  primary: bool
  checkpoints: Checkpoints | None
  events: Sequence["EventWriter"]  # one per seed, where TensorBoard files are written
  log: Log
  last_save: float = dataclasses.field(default_factory=time.perf_counter)


def fresh(config: ConfigDict, trainer: Any, lockstep: Lockstep) -> Snapshot:
  """The progress of a run that has not trained yet."""
  seeds = len(lockstep.seeds)
  patience = config.early_stopping_patience
  return Snapshot(epoch=0, step_in_epoch=0, state=trainer.state, totals=None,
                  histories=[[] for _ in range(seeds)],
                  stopping=EarlyStopping.start(seeds, patience) if patience else None,
                  kept=None, diverged=np.zeros(seeds, int), train_seconds=0.0)


def running(snapshot: Snapshot) -> np.ndarray:
  """``(seeds,)`` bool: the seeds neither stopped early nor diverged."""
  stopped = snapshot.stopping.running if snapshot.stopping else np.ones(len(snapshot.diverged),
                                                                           bool)
  return stopped & (snapshot.diverged == 0)


def save(fit: Fit, snapshot: Snapshot) -> None:
  """Checkpoint ``snapshot`` (primary process only)."""
  if fit.checkpoints is not None and fit.primary:
    step = snapshot.epoch * fit.trainer.steps + snapshot.step_in_epoch
    fit.checkpoints.save(step, snapshot, fit.lockstep)
  fit.last_save = time.perf_counter()


def stop_for(signum: int, snapshot: Snapshot, fit: Fit) -> Interrupted:
  """Save ``snapshot`` and the exception that ends the run on ``signum``."""
  save(fit, snapshot)
  where = (f"epoch {snapshot.epoch + 1}, step {snapshot.step_in_epoch} of {fit.trainer.steps}"
           if snapshot.step_in_epoch else f"the end of epoch {snapshot.epoch}")
  return Interrupted(signum, f"{signal.Signals(signum).name}: stopped at {where}, checkpoint "
                     f"saved in {', '.join(fit.workdirs)}; run the same command again to resume")


def within_epoch(fit: Fit, snapshot: Snapshot, progress: Progress) -> Callable:
  """The Python loop's per-step hook: the progress bar, a checkpoint every
  ``config.checkpoint.every_minutes`` within a long epoch, a signal's stop."""
  every = 60 * fit.config.checkpoint.every_minutes

  def on_step(done: int, state, totals) -> None:
    progress(done, state)
    signum = pending()
    if signum is None and time.perf_counter() - fit.last_save < every:
      return
    if done == fit.trainer.steps:
      return  # the epoch's end saves and checks itself
    partial = dataclasses.replace(snapshot, step_in_epoch=done, state=state, totals=totals)
    if signum is not None:
      raise stop_for(signum, partial, fit)
    save(fit, partial)
  return on_step


def record_epoch(fit: Fit, snapshot: Snapshot, epoch_records: list[dict[str, Any]],
                 timing: records.EpochTiming) -> None:
  """Append each running seed's record; mark the seeds that diverged."""
  for i in np.flatnonzero(running(snapshot)):
    record = epoch_records[i]
    snapshot.histories[i].append(record)
    if fit.primary:
      workdir_lib.append_jsonl(os.path.join(fit.workdirs[i], workdir_lib.METRICS), record)
    for events in fit.events[i:i + 1]:
      events.epoch(record)
    if not all(math.isfinite(record[k]) for k in ("train_loss", "valid_loss")):
      snapshot.diverged[i] = snapshot.epoch
      fit.log(f"seed {fit.lockstep.seeds[i]}: the loss is not finite at epoch "
              f"{snapshot.epoch} (learning rate {fit.config.optimizer.learning_rate:g} too "
              f"large?); this run has diverged")
  fit.log(records.epoch_line(snapshot.epoch, fit.config.epochs,
                             [h[-1] for h in snapshot.histories if h], timing))


def early_stop(fit: Fit, snapshot: Snapshot, epoch_records: list[dict[str, Any]]) -> None:
  """Keep each improved seed's variables; stop the seeds out of patience."""
  stopping = snapshot.stopping
  improved = stopping.update(snapshot.epoch, [1.0 - r["valid_accuracy"] for r in epoch_records])
  current = snapshot.state.variables()
  snapshot.kept = keep_best(fit.lockstep.select(improved & (snapshot.diverged == 0)), current,
                            current if snapshot.kept is None else snapshot.kept)
  for i in np.flatnonzero(stopping.stopped_epoch == snapshot.epoch):
    fit.log(f"seed {fit.lockstep.seeds[i]}: no better validation error for "
            f"{stopping.patience} epochs; stopped, restoring epoch {stopping.best_epoch[i]} "
            f"(valid error {100 * stopping.best_error[i]:.2f}%)")


def train_epoch(fit: Fit, snapshot: Snapshot, on_step: Callable | None
                ) -> tuple[list[dict[str, Any]], records.EpochTiming, Any]:
  """Train epoch ``snapshot.epoch + 1`` (from ``snapshot.step_in_epoch``),
  validate (and test, with ``config.test_every_epoch``); returns each seed's
  record of it, the epoch's timing and the state after it."""
  config, trainer = fit.config, fit.trainer
  epoch = snapshot.epoch + 1
  t = time.perf_counter()
  state, totals = trainer.run_epoch(snapshot.state, trainer.orders(epoch),
                                    snapshot.step_in_epoch, snapshot.totals, on_step)
  totals = {k: np.atleast_1d(v) for k, v in jax.device_get(totals).items()}
  train_seconds = time.perf_counter() - t
  t = time.perf_counter()
  valid = trainer.evaluate(state.variables(), fit.pipeline.valid)
  # For time-to-accuracy benchmarks only: choosing anything by it would fit the test set.
  test = (trainer.evaluate(state.variables(), fit.pipeline.test)
          if config.test_every_epoch else None)
  timing = records.EpochTiming(train=train_seconds, evaluate=time.perf_counter() - t,
                               examples=trainer.steps * config.batch_size)
  rate = float(trainer.schedule(epoch * trainer.steps - 1))
  return records.epoch_records(epoch, totals, valid, test, rate, timing), timing, state


def run_epochs(fit: Fit, snapshot: Snapshot) -> Snapshot:
  """Train from ``snapshot`` until ``config.epochs``, or until every seed has
  stopped early or diverged; checkpoint after every epoch."""
  config, trainer = fit.config, fit.trainer
  while snapshot.epoch < config.epochs and running(snapshot).any():
    epoch = snapshot.epoch + 1
    progress = Progress(epoch, config.epochs, trainer.steps)
    on_step = within_epoch(fit, snapshot, progress) if trainer.loop == "python" else None
    epoch_records, timing, state = train_epoch(fit, snapshot, on_step)
    snapshot = dataclasses.replace(snapshot, epoch=epoch, step_in_epoch=0, state=state,
                                   totals=None,
                                   train_seconds=snapshot.train_seconds + timing.train)
    record_epoch(fit, snapshot, epoch_records, timing)
    if snapshot.stopping is not None:
      early_stop(fit, snapshot, epoch_records)
    if pending() is not None:
      raise stop_for(pending(), snapshot, fit)  # which saves it (a second save of a step fails)
    save(fit, snapshot)
  return snapshot
