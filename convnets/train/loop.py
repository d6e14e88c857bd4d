"""``train_and_evaluate(config, workdir)``: one training run, start to finish.

The data live on the device; each step gathers its batch from a per-epoch
permutation inside the jitted step, and metrics are summed on the device, so
the host only dispatches work and reads numbers once per epoch.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
from ml_collections import ConfigDict

from convnets import models
from convnets.data import MNIST, SOURCES, load
from convnets.data.augment import make_augmentation
from convnets.data.device import DeviceSplit, batch_at, epoch_permutation, to_device
from convnets.data.transforms import PREPROCESSORS, get_preprocessor
from convnets.train import workdir as workdir_lib
from convnets.train.optim import OPTIMIZERS, SCHEDULES, learning_rate_schedule, make_optimizer
from convnets.train.plots import plot_curves
from convnets.train.state import TrainState
from convnets.train.step import init_state, make_eval_step, make_train_step

LOOPS = ("auto", "python", "scan")
# Measured (benchmarks/train_loop.py): on CPU, convolutions inside lax.scan
# leave XLA's fast path, so one jitted call per step is faster there.
AUTO_LOOP = {"cpu": "python"}


class ConfigError(ValueError):
  """A config value that cannot work; the message names the field."""


def check_config(config: ConfigDict) -> None:
  """Raise ConfigError naming the first unusable field."""
  def need(ok: bool, field: str, why: str) -> None:
    if not ok:
      raise ConfigError(f"config.{field}={config.get(field)!r}: {why}")

  need(isinstance(config.epochs, int) and config.epochs >= 1, "epochs", "must be an integer >= 1")
  need(config.learning_rate > 0, "learning_rate", "must be > 0")
  need(isinstance(config.batch_size, int) and config.batch_size >= 1, "batch_size",
       "must be an integer >= 1")
  need(config.eval_batch_size >= 1, "eval_batch_size", "must be >= 1")
  need(config.optimizer in OPTIMIZERS, "optimizer", f"must be one of {', '.join(OPTIMIZERS)}")
  need(config.schedule in SCHEDULES, "schedule", f"must be one of {', '.join(SCHEDULES)}")
  need(config.loop in LOOPS, "loop", f"must be one of {', '.join(LOOPS)}")
  need(config.preprocess in PREPROCESSORS, "preprocess",
       f"must be one of {', '.join(PREPROCESSORS)}")
  need(config.data_source in SOURCES, "data_source", f"must be one of {', '.join(SOURCES)}")
  need(config.train_subset >= 0, "train_subset", "must be >= 0 (0 = all)")
  need(0 <= config.warmup_epochs < config.epochs, "warmup_epochs",
       "must be >= 0 and less than epochs")
  need(config.weight_decay >= 0, "weight_decay", "must be >= 0")
  need(0 <= config.momentum < 1, "momentum", "must be in [0, 1)")


def resolve_loop(loop: str) -> str:
  return AUTO_LOOP.get(jax.default_backend(), "scan") if loop == "auto" else loop


def count_params(params: Any) -> int:
  return int(sum(x.size for x in jax.tree.leaves(params)))


def make_epoch_runner(train_step: Callable, augment: Callable, preprocess: Callable,
                      batch_size: int, steps: int, loop: str) -> tuple[Callable, Callable]:
  """``(compile(state, split, order), run_epoch(state, split, order))``: one
  epoch of ``steps`` batches, returning ``(state, metric sums)``."""

  def step_on_device(state: TrainState, totals, split: DeviceSplit, order, index):
    images, labels = batch_at(split, order, index, batch_size)
    images = augment(jax.random.fold_in(jax.random.fold_in(state.key, state.step), 1), images)
    state, metrics = train_step(state, {"images": preprocess(images), "labels": labels})
    return state, jax.tree.map(jnp.add, totals, metrics)

  zeros = {"loss": jnp.zeros(()), "correct": jnp.zeros(()), "count": jnp.zeros(())}
  if loop == "python":
    step = jax.jit(step_on_device, donate_argnums=(0, 1))

    def run_epoch(state, split, order, on_step=None):
      totals = jax.tree.map(jnp.copy, zeros)
      for i in range(steps):
        state, totals = step(state, totals, split, order, i)
        if on_step is not None:
          on_step(i + 1, state)
      return state, totals

    def compile_(state, split, order):
      step.lower(state, zeros, split, order, 0).compile()
  else:
    def epoch(state, split, order):
      def body(carry, index):
        return step_on_device(*carry, split, order, index), None
      (state, totals), _ = jax.lax.scan(body, (state, zeros), jnp.arange(steps))
      return state, totals
    epoch_jit = jax.jit(epoch, donate_argnums=(0,))

    def run_epoch(state, split, order, on_step=None):
      return epoch_jit(state, split, order)

    def compile_(state, split, order):
      epoch_jit.lower(state, split, order).compile()
  return compile_, run_epoch


def make_evaluator(model, preprocess: Callable, chunk: int) -> Callable[[Any, DeviceSplit],
                                                                        dict[str, float]]:
  """``evaluate(variables, split) -> {"loss", "accuracy"}`` over the whole split."""
  eval_step = make_eval_step(model)

  @jax.jit
  def chunk_on_device(variables, totals, split: DeviceSplit, index):
    sl = functools.partial(jax.lax.dynamic_slice_in_dim, start_index=index * chunk,
                           slice_size=chunk)
    batch = {"images": preprocess(sl(split.images)), "labels": sl(split.labels),
             "weights": sl(split.weights)}
    return jax.tree.map(jnp.add, totals, eval_step(variables, batch))

  def evaluate(variables, split: DeviceSplit) -> dict[str, float]:
    totals = {"loss": jnp.zeros(()), "correct": jnp.zeros(()), "count": jnp.zeros(())}
    for i in range(split.images.shape[0] // chunk):
      totals = chunk_on_device(variables, totals, split, i)
    totals = jax.device_get(totals)
    return {"loss": float(totals["loss"] / totals["count"]),
            "accuracy": float(totals["correct"] / totals["count"])}

  return evaluate


class Progress:
  """A one-line progress bar within an epoch, on a terminal only (it syncs
  with the device about 20 times an epoch to show true progress)."""

  def __init__(self, epoch: int, epochs: int, steps: int, stream=sys.stderr):
    self.epoch, self.epochs, self.steps, self.stream = epoch, epochs, steps, stream
    self.every = max(1, steps // 20)
    self.start = time.perf_counter()
    self.enabled = stream.isatty()

  def __call__(self, done: int, state: TrainState) -> None:
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


def train_and_evaluate(config: ConfigDict, workdir: str, *, data: MNIST | None = None,
                       data_dir: str | None = None, download: bool = False,
                       overwrite: bool = False, log: Callable[[str], None] = print
                       ) -> dict[str, Any]:
  """Train ``config.model`` on MNIST, validating every epoch and testing at
  the end; write config, metrics, summary and curves to ``workdir``.

  Nothing is written until the config, the model and the data have been
  checked. Returns the summary (also ``workdir/summary.json``).
  """
  start = time.perf_counter()
  check_config(config)
  model = models.create(config.model, **config.model_kwargs)
  if data is None:
    data = load(data_dir, source=config.data_source, download_missing=download,
                train_size=config.train_size)
  train_split = data.train.take(config.train_subset) if config.train_subset else data.train
  if config.batch_size > len(train_split):
    raise ConfigError(f"config.batch_size={config.batch_size}: larger than the "
                      f"{len(train_split)} training examples")
  workdir_lib.prepare(workdir, overwrite=overwrite)
  workdir_lib.write_json(os.path.join(workdir, "config.json"), config.to_dict())

  steps = len(train_split) // config.batch_size
  tx = make_optimizer(config, steps)
  schedule = learning_rate_schedule(config, steps)
  init_key, data_key = jax.random.split(jax.random.key(config.seed))
  preprocess = get_preprocessor(config.preprocess)
  input_shape = jax.eval_shape(preprocess, jax.ShapeDtypeStruct((1, 28, 28), jnp.uint8)).shape
  state = init_state(model, tx, init_key, input_shape[1:])
  params = count_params(state.params)
  loop = resolve_loop(config.loop)
  compile_epoch, run_epoch = make_epoch_runner(make_train_step(model, tx),
                                               make_augmentation(config), preprocess,
                                               config.batch_size, steps, loop)
  evaluate = make_evaluator(model, preprocess, config.eval_batch_size)
  train_dev = to_device(train_split)
  valid_dev = to_device(data.valid, config.eval_batch_size)
  test_dev = to_device(data.test, config.eval_batch_size)
  log(f"{config.model}: {params:,} parameters; {len(train_split):,} train / "
      f"{len(data.valid):,} valid / {len(data.test):,} test examples; {config.epochs} epochs "
      f"of {steps} steps (batch {config.batch_size}, {config.optimizer} lr "
      f"{config.learning_rate:g} {config.schedule}); {jax.default_backend()} x"
      f"{jax.device_count()}, loop={loop}")

  order_of = jax.jit(epoch_permutation, static_argnums=1)
  t = time.perf_counter()
  compile_epoch(state, train_dev, order_of(data_key, len(train_split)))
  evaluate(state.variables(), valid_dev)
  compile_seconds = time.perf_counter() - t

  metrics_path = os.path.join(workdir, "metrics.jsonl")
  history, train_seconds = [], 0.0
  for epoch in range(1, config.epochs + 1):
    order = order_of(jax.random.fold_in(data_key, epoch), len(train_split))
    t = time.perf_counter()
    state, totals = run_epoch(state, train_dev, order,
                              Progress(epoch, config.epochs, steps))
    totals = jax.device_get(totals)
    epoch_seconds = time.perf_counter() - t
    train_seconds += epoch_seconds
    t = time.perf_counter()
    valid = evaluate(state.variables(), valid_dev)
    record = {
        "epoch": epoch,
        "train_loss": float(totals["loss"] / totals["count"]),
        "train_accuracy": float(totals["correct"] / totals["count"]),
        "valid_loss": valid["loss"],
        "valid_accuracy": valid["accuracy"],
        "learning_rate": float(schedule(epoch * steps - 1)),
        "epoch_seconds": epoch_seconds,
        "eval_seconds": time.perf_counter() - t,
        "examples_per_second": steps * config.batch_size / epoch_seconds,
    }
    if not all(math.isfinite(record[k]) for k in ("train_loss", "valid_loss")):
      log(f"epoch {epoch}: the loss is not finite (learning rate {config.learning_rate:g} "
          f"too large?); stopping")
      workdir_lib.append_jsonl(metrics_path, record)
      history.append(record)
      break
    workdir_lib.append_jsonl(metrics_path, record)
    history.append(record)
    log(f"epoch {epoch:3d}/{config.epochs}  loss {record['train_loss']:.4f}  "
        f"acc {record['train_accuracy']:.4f}  valid loss {record['valid_loss']:.4f}  "
        f"valid acc {record['valid_accuracy']:.4f}  {epoch_seconds:.1f}s "
        f"({record['examples_per_second']:,.0f} ex/s)")

  test = evaluate(state.variables(), test_dev)
  epochs_run = len(history)
  summary = {
      "model": config.model,
      "model_kwargs": {k: v for k, v in config.model_kwargs.to_dict().items() if v is not None},
      "params": params,
      "epochs": epochs_run,
      "seed": config.seed,
      "test_accuracy": test["accuracy"],
      "test_error": 1.0 - test["accuracy"],
      "test_loss": test["loss"],
      "valid_accuracy": history[-1]["valid_accuracy"],
      "valid_error": 1.0 - history[-1]["valid_accuracy"],
      "train_accuracy": history[-1]["train_accuracy"],
      "train_seconds": train_seconds,
      "compile_seconds": compile_seconds,
      "seconds_per_epoch": train_seconds / epochs_run,
      "examples_per_second": epochs_run * steps * config.batch_size / train_seconds,
      "total_seconds": time.perf_counter() - start,
      "platform": jax.default_backend(),
      "devices": jax.device_count(),
      "loop": loop,
      "train_examples": len(train_split),
  }
  workdir_lib.save_variables(workdir, jax.device_get(state.variables()))
  workdir_lib.write_json(os.path.join(workdir, "summary.json"), summary)
  plot_curves(history, os.path.join(workdir, "curves.png"),
              f"{config.model}: test error {100 * summary['test_error']:.2f}%")
  return summary
