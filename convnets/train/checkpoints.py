"""Checkpoints of a run's whole training state with Orbax, and resuming from them.

Each seed's workdir keeps its own ``checkpoints/`` (an Orbax
``CheckpointManager``, the last ``keep`` saves), so every run folder resumes
on its own. A save holds everything the next epoch reads: the train state
(parameters, optimiser state, batch-norm statistics, step, PRNG key), the
early-stopping bookkeeping and best variables, the records so far and, for a
save within an epoch, the partial metric sums. Resuming from it repeats the
uninterrupted run's numbers exactly: every random draw is a function of the
seed, the epoch and the step.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
from typing import Any, Sequence

import jax
import numpy as np
import orbax.checkpoint as ocp

from convnets.train import workdir as workdir_lib
from convnets.train.early_stopping import EarlyStopping
from convnets.train.placement import Lockstep
from convnets.train.state import TrainState

CHECKPOINTS = "checkpoints"
# Room a save takes beyond its arrays (Orbax's metadata, the records' JSON),
# generously: a save that runs out of room fails in Orbax's background threads,
# each printing its traceback, so a full disk is refused before it starts.
SAVE_OVERHEAD_BYTES = 256 * 1024


@dataclasses.dataclass
class Snapshot:
  """Training progress, with a models axis per ``Lockstep``.

  Attributes:
    epoch: epochs completed.
    step_in_epoch: steps of epoch ``epoch + 1`` done (0 at an epoch's end).
    state: the train state after them.
    totals: the partial epoch's metric sums (None at an epoch's end).
    histories: each seed's epoch records so far.
    stopping: early-stopping bookkeeping (None without early stopping).
    kept: each seed's best variables so far (with early stopping).
    diverged: per seed, the epoch its loss went non-finite (0: it has not).
    train_seconds: training wall time so far.
  """
  epoch: int
  step_in_epoch: int
  state: TrainState
  totals: dict[str, Any] | None
  histories: list[list[dict[str, Any]]]
  stopping: EarlyStopping | None
  kept: Any
  diverged: np.ndarray
  train_seconds: float


def _with_key_data(state: TrainState) -> TrainState:
  return state.replace(key=jax.random.key_data(state.key))


def _meta(snapshot: Snapshot, i: int) -> dict[str, Any]:
  stopping = snapshot.stopping
  return {
      "epoch": snapshot.epoch, "step_in_epoch": snapshot.step_in_epoch,
      "history": snapshot.histories[i], "train_seconds": snapshot.train_seconds,
      "diverged": int(snapshot.diverged[i]),
      "stopping": None if stopping is None else {
          "best_error": float(stopping.best_error[i]), "best_epoch": int(stopping.best_epoch[i]),
          "stopped_epoch": int(stopping.stopped_epoch[i])},
  }


def check_room(folder: str, tree: Any, meta: dict[str, Any]) -> None:
  """Refuse a save of ``tree`` and ``meta`` that the disk under ``folder`` has
  no room for, as the one-line WorkdirError of a failed write naming ``folder``."""
  needed = (sum(np.asarray(x).nbytes for x in jax.tree.leaves(tree)) + len(json.dumps(meta))
            + SAVE_OVERHEAD_BYTES)
  existing = folder
  while not os.path.isdir(existing):
    existing = os.path.dirname(existing)
  free = shutil.disk_usage(existing).free
  if free < needed:
    with workdir_lib.writing(folder):
      raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (a checkpoint needs "
                    f"{needed / 2**20:.1f} MiB, {free / 2**20:.1f} MiB are free)")


class Checkpoints:
  """The checkpoints of the runs of ``workdirs`` (one per seed)."""

  def __init__(self, workdirs: Sequence[str], *, keep: int, asynchronous: bool):
    options = ocp.CheckpointManagerOptions(max_to_keep=keep,
                                           enable_async_checkpointing=asynchronous)
    self.folders = [os.path.abspath(os.path.join(w, CHECKPOINTS)) for w in workdirs]
    self.managers = [ocp.CheckpointManager(folder, options=options) for folder in self.folders]

  def save(self, step: int, snapshot: Snapshot, lockstep: Lockstep) -> None:
    """Save ``snapshot`` as global step ``step`` (asynchronously if so made)."""
    for i, manager in enumerate(self.managers):
      tree = {"state": _with_key_data(lockstep.take(snapshot.state, i))}
      if snapshot.kept is not None:
        tree["kept"] = lockstep.take(snapshot.kept, i)
      if snapshot.totals is not None:
        tree["totals"] = lockstep.take(snapshot.totals, i)
      # Host copies: the next training step donates (reuses) the device buffers.
      tree, meta = jax.device_get(tree), _meta(snapshot, i)
      manager.wait_until_finished()  # the previous save done, and the oldest deleted
      check_room(self.folders[i], tree, meta)
      manager.save(step, args=ocp.args.Composite(
          tree=ocp.args.StandardSave(tree), meta=ocp.args.JsonSave(meta)), force=True)

  def latest_step(self) -> int | None:
    """The step every seed has a checkpoint of, or None."""
    steps = {manager.latest_step() for manager in self.managers}
    return steps.pop() if len(steps) == 1 and None not in steps else None

  def restore(self, step: int, *, like: TrainState, patience: int, lockstep: Lockstep
              ) -> Snapshot:
    """The snapshot saved at ``step``; ``like`` is one seed's fresh state
    (shapes, dtypes and placement to restore into)."""
    metas, trees = [], []
    for manager in self.managers:
      meta = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
      like_tree = {"state": _with_key_data(like)}
      if meta["stopping"] is not None:
        like_tree["kept"] = like.variables()
      if meta["step_in_epoch"]:
        like_tree["totals"] = {k: jax.numpy.zeros(()) for k in ("loss", "correct", "count")}
      abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like_tree)
      tree = manager.restore(step, args=ocp.args.Composite(
          tree=ocp.args.StandardRestore(abstract)))["tree"]
      tree["state"] = tree["state"].replace(key=jax.random.wrap_key_data(tree["state"].key))
      metas.append(meta)
      trees.append(tree)
    stack = (lambda *xs: jax.numpy.stack(xs)) if lockstep.many else (lambda x: x)
    joined = jax.tree.map(stack, *trees)
    first = metas[0]
    stopping = None
    if first["stopping"] is not None:
      field = lambda k, fill: np.array([fill if m["stopping"][k] is None else m["stopping"][k]
                                        for m in metas])
      stopping = EarlyStopping(patience, field("best_error", np.inf), field("best_epoch", 0),
                               field("stopped_epoch", 0))
    return Snapshot(epoch=first["epoch"], step_in_epoch=first["step_in_epoch"],
                    state=joined["state"], totals=joined.get("totals"),
                    histories=[m["history"] for m in metas], stopping=stopping,
                    kept=joined.get("kept"), diverged=np.array([m["diverged"] for m in metas]),
                    train_seconds=first["train_seconds"])

  def close(self) -> None:
    """Finish pending saves."""
    for manager in self.managers:
      manager.wait_until_finished()
      manager.close()
