"""What a workdir holds decides how a run starts: fresh, resumed, or refused.

* empty (or new): a fresh run;
* a finished run (``summary.json``): refused, unless ``overwrite``, which
  moves it to ``WORKDIR.replaced`` until the new run has finished;
* an unfinished run of the same config: resumed from its last checkpoint
  (from scratch, if it stopped before its first), saying so;
* an unfinished run of another config, or other files: refused, unless
  ``overwrite`` (set aside likewise).

Each workdir is locked (:mod:`convnets.train.lock`) for the whole run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Any, Callable, Sequence

import jax
from ml_collections import ConfigDict

from convnets.train import fit, lock
from convnets.train import workdir as workdir_lib
from convnets.train.checkpoints import CHECKPOINTS, Checkpoints, Snapshot
from convnets.train.placement import Lockstep

FRESH, RESUME = "fresh", "resume"
# Fields that say how a run is kept, not what it computes.
NOT_COMPARED = ("checkpoint", "tensorboard", "pictures", "cluster")

Log = Callable[[str], None]


def run_config(config: ConfigDict, seed: int) -> dict[str, Any]:
  """What ``config.json`` holds for ``seed``'s run, as JSON would give it back."""
  return workdir_lib.as_written(dict(config.to_dict(), seed=seed))


def differences(saved: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
  """The top-level fields in which two run configs differ, those of
  ``NOT_COMPARED`` aside."""
  return sorted(k for k in set(saved) | set(wanted)
                if k not in NOT_COMPARED and saved.get(k) != wanted.get(k))


def plan(workdir: str, wanted: dict[str, Any], overwrite: bool, log: Log) -> str:
  """:data:`FRESH` or :data:`RESUME` for ``workdir``, or a WorkdirError saying why not."""
  contents = [n for n in os.listdir(workdir) if not n.endswith(".lock")]
  replace = ("choose a new --workdir, or pass --overwrite to replace it (the old results "
             f"are kept in {workdir}{workdir_lib.REPLACED_SUFFIX} until the new run finishes)")
  if not contents:
    return FRESH
  if workdir_lib.SUMMARY in contents:
    reason = f"workdir {workdir} already holds results of a finished run; {replace}"
  elif workdir_lib.CONFIG in contents:
    saved = workdir_lib.read_json(os.path.join(workdir, workdir_lib.CONFIG))
    differ = differences(saved, wanted)
    if not differ:
      return RESUME
    reason = (f"workdir {workdir} holds an unfinished run with another config "
              f"({', '.join(differ)} differ); resume it with the settings it was started "
              f"with, or {replace}")
  else:
    reason = (f"workdir {workdir} already holds results ({', '.join(sorted(contents)[:5])}); "
              f"{replace}")
  if not overwrite:
    raise workdir_lib.WorkdirError(reason)
  aside = workdir_lib.set_aside(workdir)
  log(f"{workdir}: earlier results moved to {aside}; they are deleted once this run finishes")
  return FRESH


def claim(config: ConfigDict, seeds: Sequence[int], workdirs: Sequence[str], *,
          overwrite: bool, primary: bool, held: contextlib.ExitStack, log: Log) -> list[str]:
  """Lock every workdir (for as long as ``held`` lasts), plan each run and
  write the fresh ones' ``config.json``; returns the plans."""
  plans = []
  for seed, workdir in zip(seeds, workdirs):
    if not primary:
      plans.append(FRESH)
      continue
    held.enter_context(lock.hold(workdir))
    wanted = run_config(config, seed)
    plans.append(plan(workdir, wanted, overwrite, log))
    workdir_lib.write_json(os.path.join(workdir, workdir_lib.CONFIG), wanted)
  return plans


def _open(config: ConfigDict, workdirs: Sequence[str]) -> Checkpoints:
  return Checkpoints(workdirs, keep=config.checkpoint.keep,
                     asynchronous=config.checkpoint.asynchronous)


def _clear(workdirs: Sequence[str]) -> None:
  """Remove what an earlier start of these runs left: records, checkpoints."""
  for workdir in workdirs:
    shutil.rmtree(os.path.join(workdir, CHECKPOINTS), ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
      os.remove(os.path.join(workdir, workdir_lib.METRICS))


def start(config: ConfigDict, trainer: Any, lockstep: Lockstep, plans: Sequence[str],
          workdirs: Sequence[str], log: Log) -> tuple[Snapshot, Checkpoints | None]:
  """Where training starts, and the checkpoints to save to: the last
  checkpoint every seed shares when all runs are resumed, else a fresh start
  (clearing what earlier starts left). A multi-process job keeps none."""
  if jax.process_count() > 1:
    log("checkpoints are off in a multi-process job: an interrupted run starts again")
    return fit.fresh(config, trainer, lockstep), None
  store = _open(config, workdirs)
  step = store.latest_step() if set(plans) == {RESUME} else None
  if step is None:
    if RESUME in plans:
      log("no checkpoint common to every seed of the unfinished run: training from the start")
    store.close()
    _clear(workdirs)
    return fit.fresh(config, trainer, lockstep), _open(config, workdirs)
  snapshot = store.restore(step, like=lockstep.take(trainer.state, 0),
                           patience=config.early_stopping_patience, lockstep=lockstep)
  where = (f"epoch {snapshot.epoch + 1}, step {snapshot.step_in_epoch}"
           if snapshot.step_in_epoch else f"the end of epoch {snapshot.epoch}")
  log(f"resuming the unfinished run from its checkpoint at {where}")
  for workdir, history in zip(workdirs, snapshot.histories):
    workdir_lib.write_jsonl(os.path.join(workdir, workdir_lib.METRICS), history)
  return snapshot, store
