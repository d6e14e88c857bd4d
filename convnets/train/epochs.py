"""One epoch of training and one pass of evaluation, compiled.

The data live on the device; each step gathers its batch from a per-epoch
permutation inside the jitted step, preprocesses and augments it there, and
sums the metrics on the device, so the host only dispatches work and reads
numbers once per epoch.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from convnets.data.device import DeviceSplit, batch_at
from convnets.train.pipeline import Pipeline
from convnets.train.placement import Lockstep, Placement
from convnets.train.state import TrainState
from convnets.train.step import make_eval_step

# On CPU the two loops run alike (results/benchmarks/train_loop_cpu.md) and
# "python" keeps the in-epoch progress bar; elsewhere "scan" saves a dispatch
# per step.
AUTO_LOOP = {"cpu": "python"}


def resolve_loop(loop: str) -> str:
  return AUTO_LOOP.get(jax.default_backend(), "scan") if loop == "auto" else loop


def _sums(lockstep: Lockstep) -> dict[str, jax.Array]:
  return {"loss": lockstep.zeros(), "correct": lockstep.zeros(), "count": lockstep.zeros()}


def make_epoch_runner(*, train_step: Callable, pipeline: Pipeline, batch_size: int, steps: int,
                      loop: str, lockstep: Lockstep, placement: Placement
                      ) -> tuple[Callable, Callable]:
  """``(compile(state, order), run_epoch(state, order, start=0, totals=None,
  on_step=None))``: one epoch of ``steps`` batches of ``pipeline.train`` in
  ``order``, returning ``(state, metric sums)``; ``state`` and ``order`` carry
  the models axis of ``lockstep``. The Python loop can start at step
  ``start`` with the partial sums ``totals`` (a resumed epoch) and calls
  ``on_step(done, state, totals)`` after each step; the scan loop runs whole
  epochs only."""

  def step_on_device(state: TrainState, totals, split: DeviceSplit, order, index):
    images, labels = batch_at(split, order, index, batch_size)
    images, labels = placement.shard_batch(images), placement.shard_batch(labels)
    key = jax.random.fold_in(jax.random.fold_in(state.key, state.step), 1)
    images = pipeline.augment(key, images)
    state, metrics = train_step(state, {"images": pipeline.preprocess(images), "labels": labels})
    return state, jax.tree.map(jnp.add, totals, metrics)

  step_all = lockstep.map(step_on_device, (0, 0, None, 0, None))
  split = pipeline.train
  if loop == "python":
    step = jax.jit(step_all, donate_argnums=(0, 1))

    def run_epoch(state, order, start=0, totals=None, on_step=None):
      totals = _sums(lockstep) if totals is None else totals
      for i in range(start, steps):
        state, totals = step(state, totals, split, order, i)
        if on_step is not None:
          on_step(i + 1, state, totals)
      return state, totals

    return (lambda state, order: step.lower(state, _sums(lockstep), split, order, 0).compile(),
            run_epoch)

  def epoch(state, data: DeviceSplit, order):
    def body(carry, index):
      return step_all(*carry, data, order, index), None
    (state, totals), _ = jax.lax.scan(body, (state, _sums(lockstep)), jnp.arange(steps))
    return state, totals

  # The split is an argument, not a closed-over constant baked into the program.
  epoch_jit = jax.jit(epoch, donate_argnums=(0,))
  def run_whole_epoch(state, order, start=0, totals=None, on_step=None):
    if start:
      raise ValueError("the scan loop runs whole epochs only; resume a checkpoint taken "
                       "within an epoch with config.loop='python'")
    return epoch_jit(state, split, order)

  return lambda state, order: epoch_jit.lower(state, split, order).compile(), run_whole_epoch


def make_evaluator(*, model, pipeline: Pipeline, chunk: int, lockstep: Lockstep,
                   placement: Placement) -> tuple[Callable, Callable[..., Any]]:
  """``(compile(variables, split), evaluate(variables, split))``: ``evaluate``
  returns ``[{"loss", "accuracy"}, ...]`` over the whole split, one dict per
  model; with ``predictions=True`` also each model's predicted class of every
  example, ``(models, N)`` (padding included: the first ``N`` real examples
  come first). ``compile`` compiles the program ``evaluate`` runs per chunk."""
  eval_step = make_eval_step(model)

  def chunk_on_device(variables, totals, split: DeviceSplit, index):
    sl = lambda x: placement.shard_batch(jax.lax.dynamic_slice_in_dim(x, index * chunk, chunk))
    batch = {"images": pipeline.preprocess(sl(split.images)), "labels": sl(split.labels),
             "weights": sl(split.weights)}
    metrics, predicted = eval_step(variables, batch)
    return jax.tree.map(jnp.add, totals, metrics), predicted

  chunk_all = jax.jit(lockstep.map(chunk_on_device, (0, 0, None, None)))

  def evaluate(variables, split: DeviceSplit, *, predictions: bool = False):
    totals, predicted = _sums(lockstep), []
    for i in range(split.images.shape[0] // chunk):
      totals, chunk_predicted = chunk_all(variables, totals, split, i)
      predicted.append(chunk_predicted)
    totals = {k: np.atleast_1d(v) for k, v in jax.device_get(totals).items()}
    metrics = [{"loss": float(loss / count), "accuracy": float(correct / count)}
               for loss, correct, count in zip(totals["loss"], totals["correct"],
                                               totals["count"])]
    if not predictions:
      return metrics
    # (models, N): the models axis leads whether or not the seeds train in lockstep.
    per_chunk = [np.asarray(jax.device_get(p)).reshape(-1, chunk) for p in predicted]
    return metrics, np.concatenate(per_chunk, axis=1)

  def compile_chunk(variables, split: DeviceSplit):
    return chunk_all.lower(variables, _sums(lockstep), split, 0).compile()

  return compile_chunk, evaluate


class Progress:
  """A one-line progress bar within an epoch, on a terminal only (it syncs
  with the device about 20 times an epoch to show true progress)."""

  def __init__(self, epoch: int, epochs: int, steps: int, stream=sys.stderr):
    self.epoch, self.epochs, self.steps, self.stream = epoch, epochs, steps, stream
    self.every = max(1, steps // 20)
    self.start = time.perf_counter()
    self.enabled = stream.isatty()

  def __call__(self, done: int, state: TrainState) -> None:
    """Show ``done`` of the epoch's steps (syncing with the device)."""
    if not self.enabled or (done % self.every and done != self.steps):
      return
    jax.block_until_ready(state.step)
    frac = done / self.steps
    rate = done / max(time.perf_counter() - self.start, 1e-9)
    bar = "#" * int(20 * frac) + "." * (20 - int(20 * frac))
    self.stream.write(f"\repoch {self.epoch}/{self.epochs} [{bar}] {done}/{self.steps} "
                      f"steps, {rate:.0f} steps/s ")
    if done == self.steps:
      self.stream.write("\r" + " " * 70 + "\r")
    self.stream.flush()
