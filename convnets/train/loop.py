"""``train_and_evaluate(config, workdir)``: one training run, start to finish.

The data live on the device; each step gathers its batch from a per-epoch
permutation inside the jitted step, and metrics are summed on the device, so
the host only dispatches work and reads numbers once per epoch.

With ``config.early_stopping_patience > 0`` training stops once the
validation error has not improved for that many epochs, and the best epoch's
variables are restored, saved and tested (:mod:`convnets.train.early_stopping`).
"""

from __future__ import annotations

import math
import os
import resource
import sys
import time
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec
from ml_collections import ConfigDict

from convnets import models
from convnets.data import MNIST, SOURCES, Split, load
from convnets.data.augment import make_augmentation
from convnets.data.device import DeviceSplit, batch_at, epoch_permutation, to_device
from convnets.data.preprocessing import fit_preprocessor
from convnets.data.preprocessing import input_shape as preprocess_input_shape
from convnets.data.preprocessing import names as preprocessor_names
from convnets.train import workdir as workdir_lib
from convnets.train.early_stopping import EarlyStopping, keep_best
from convnets.train.optim import OPTIMIZERS, SCHEDULES, learning_rate_schedule, make_optimizer
from convnets.train.plots import plot_curves
from convnets.train.state import TrainState
from convnets.train.step import init_state, make_eval_step, make_train_step

LOOPS = ("auto", "python", "scan")
# Measured (benchmarks/train_loop.py, results/benchmarks/train_loop_cpu.md): on
# CPU the two loops run within ~10% of each other (noise there); "python"
# keeps the in-epoch progress bar. Elsewhere "scan" saves a dispatch per step.
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
  need(config.preprocess in preprocessor_names(), "preprocess",
       f"must be one of {', '.join(preprocessor_names())}")
  need(config.data_source in SOURCES, "data_source", f"must be one of {', '.join(SOURCES)}")
  need(config.train_subset >= 0, "train_subset", "must be >= 0 (0 = all)")
  need(0 <= config.warmup_epochs < config.epochs, "warmup_epochs",
       "must be >= 0 and less than epochs")
  need(config.weight_decay >= 0, "weight_decay", "must be >= 0")
  need(0 <= config.momentum < 1, "momentum", "must be in [0, 1)")
  need(config.num_devices >= 0, "num_devices", "must be >= 0 (0 = all local devices)")
  need(config.l1 >= 0, "l1", "must be >= 0")
  need(config.l2 >= 0, "l2", "must be >= 0")
  need(0 <= config.label_smoothing < 1, "label_smoothing", "must be in [0, 1)")
  need(isinstance(config.early_stopping_patience, int) and config.early_stopping_patience >= 0,
       "early_stopping_patience", "must be an integer >= 0 (0 = off)")


def resolve_loop(loop: str) -> str:
  return AUTO_LOOP.get(jax.default_backend(), "scan") if loop == "auto" else loop


def peak_memory_mb() -> float:
  """Peak memory so far: the accelerator's when it reports it, else the
  process's resident set (CPU)."""
  stats = jax.local_devices()[0].memory_stats() or {}
  if "peak_bytes_in_use" in stats:
    return stats["peak_bytes_in_use"] / 2**20
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def count_params(params: Any) -> int:
  return int(sum(x.size for x in jax.tree.leaves(params)))


class Placement:
  """Where arrays live: one device, or data parallelism over a ``Mesh``.

  With several devices the batch axis is sharded over the mesh axis
  ``"data"`` and everything else (parameters, optimiser state, the stored data
  set) is replicated; XLA inserts the gradient all-reduce.
  """

  def __init__(self, num_devices: int = 0):
    devices = jax.devices()
    n = len(devices) if num_devices == 0 else num_devices
    if not 1 <= n <= len(devices):
      raise ConfigError(f"config.num_devices={num_devices}: only {len(devices)} "
                        f"{jax.default_backend()} devices exist (0 = all)")
    self.num_devices = n
    self.mesh = (jax.sharding.Mesh(np.asarray(devices[:n]), ("data",)) if n > 1 else None)

  def replicate(self, tree: Any) -> Any:
    if self.mesh is None:
      return tree
    return jax.device_put(tree, NamedSharding(self.mesh, PartitionSpec()))

  def shard_batch(self, x: jax.Array, axis: int = 0) -> jax.Array:
    """Inside a jitted function: split ``x``'s batch ``axis`` over the devices."""
    if self.mesh is None:
      return x
    spec = (None,) * axis + ("data",)
    return jax.lax.with_sharding_constraint(x, NamedSharding(self.mesh, PartitionSpec(*spec)))


def per_model(fn: Callable, in_axes: Any, many: bool) -> Callable:
  """``fn`` vmapped over a leading models axis when training several at once."""
  return jax.vmap(fn, in_axes=in_axes) if many else fn


def make_epoch_runner(train_step: Callable, augment: Callable, preprocess: Callable,
                      batch_size: int, steps: int, loop: str, many: bool,
                      placement: Placement) -> tuple[Callable, Callable]:
  """``(compile(state, split, order), run_epoch(state, split, order))``: one
  epoch of ``steps`` batches, returning ``(state, metric sums)``. With
  ``many``, ``state`` and ``order`` carry a leading models axis and the step is
  vmapped over it (several seeds trained in lockstep)."""

  def step_on_device(state: TrainState, totals, split: DeviceSplit, order, index):
    images, labels = batch_at(split, order, index, batch_size)
    images, labels = placement.shard_batch(images), placement.shard_batch(labels)
    images = augment(jax.random.fold_in(jax.random.fold_in(state.key, state.step), 1), images)
    state, metrics = train_step(state, {"images": preprocess(images), "labels": labels})
    return state, jax.tree.map(jnp.add, totals, metrics)

  step_all = per_model(step_on_device, (0, 0, None, 0, None), many)

  def zeros_like_totals(order):
    shape = order.shape[:1] if many else ()
    return {"loss": jnp.zeros(shape), "correct": jnp.zeros(shape), "count": jnp.zeros(shape)}

  if loop == "python":
    step = jax.jit(step_all, donate_argnums=(0, 1))

    def run_epoch(state, split, order, on_step=None):
      totals = zeros_like_totals(order)
      for i in range(steps):
        state, totals = step(state, totals, split, order, i)
        if on_step is not None:
          on_step(i + 1, state)
      return state, totals

    def compile_(state, split, order):
      step.lower(state, zeros_like_totals(order), split, order, 0).compile()
  else:
    def epoch(state, split, order):
      def body(carry, index):
        return step_all(*carry, split, order, index), None
      (state, totals), _ = jax.lax.scan(body, (state, zeros_like_totals(order)),
                                        jnp.arange(steps))
      return state, totals
    epoch_jit = jax.jit(epoch, donate_argnums=(0,))

    def run_epoch(state, split, order, on_step=None):
      return epoch_jit(state, split, order)

    def compile_(state, split, order):
      epoch_jit.lower(state, split, order).compile()
  return compile_, run_epoch


def make_evaluator(model, preprocess: Callable, chunk: int, many: bool, placement: Placement
                   ) -> Callable[[Any, DeviceSplit], list[dict[str, float]]]:
  """``evaluate(variables, split) -> [{"loss", "accuracy"}, ...]`` over the
  whole split, one dict per model."""
  eval_step = make_eval_step(model)

  def chunk_on_device(variables, totals, split: DeviceSplit, index):
    sl = lambda x: placement.shard_batch(jax.lax.dynamic_slice_in_dim(x, index * chunk, chunk))
    batch = {"images": preprocess(sl(split.images)), "labels": sl(split.labels),
             "weights": sl(split.weights)}
    return jax.tree.map(jnp.add, totals, eval_step(variables, batch))

  chunk_all = jax.jit(per_model(chunk_on_device, (0, 0, None, None), many))

  def evaluate(variables, split: DeviceSplit) -> list[dict[str, float]]:
    shape = jax.tree.leaves(variables)[0].shape[:1] if many else ()
    totals = {"loss": jnp.zeros(shape), "correct": jnp.zeros(shape), "count": jnp.zeros(shape)}
    for i in range(split.images.shape[0] // chunk):
      totals = chunk_all(variables, totals, split, i)
    totals = {k: np.atleast_1d(v) for k, v in jax.device_get(totals).items()}
    return [{"loss": float(loss / count), "accuracy": float(correct / count)}
            for loss, correct, count in zip(totals["loss"], totals["correct"], totals["count"])]

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


def training_split(config: ConfigDict, data: MNIST) -> Split:
  """The examples ``config`` trains on (and fits its preprocessor to): the
  first ``config.train_subset`` training examples, or all of them if 0."""
  return data.train.take(config.train_subset) if config.train_subset else data.train


def train_and_evaluate(config: ConfigDict, workdir: str, **kwargs: Any) -> dict[str, Any]:
  """Train ``config.model`` with ``config.seed`` on MNIST, validating every
  epoch and testing at the end; write config, metrics, summary, curves and
  variables to ``workdir``. Keyword arguments as for :func:`train_seeds`.
  Returns the summary (also ``workdir/summary.json``)."""
  return train_seeds(config, [config.seed], [workdir], **kwargs)[0]


def train_seeds(config: ConfigDict, seeds: Sequence[int], workdirs: Sequence[str], *,
                data: MNIST | None = None, data_dir: str | None = None,
                download: bool = False, overwrite: bool = False,
                log: Callable[[str], None] = print) -> list[dict[str, Any]]:
  """Train one model per seed under ``config``, each into its own workdir.

  Several seeds train together in lockstep: their states are stacked on a
  leading axis and every step is ``vmap``-ped over it, one compiled program
  for all (same data set, each seed its own initialisation, data order and
  augmentation). One seed runs unbatched, so a single run's numbers do not
  depend on how it was launched.

  Nothing is written until the config, the model and the data have been
  checked. Returns one summary per seed.
  """
  start = time.perf_counter()
  check_config(config)
  if len(seeds) != len(workdirs) or not seeds:
    raise ValueError(f"need one workdir per seed, got {len(seeds)} seeds and "
                     f"{len(workdirs)} workdirs")
  model = models.create(config.model, **config.model_kwargs)
  placement = Placement(config.num_devices)
  for field in ("batch_size", "eval_batch_size"):
    if config[field] % placement.num_devices:
      raise ConfigError(f"config.{field}={config[field]}: must be divisible by the "
                        f"{placement.num_devices} devices the batch is split over "
                        f"(or set config.num_devices)")
  if data is None:
    data = load(data_dir, source=config.data_source, download_missing=download,
                train_size=config.train_size)
  train_split = training_split(config, data)
  if config.batch_size > len(train_split):
    raise ConfigError(f"config.batch_size={config.batch_size}: larger than the "
                      f"{len(train_split)} training examples")
  augment = make_augmentation(config)
  # Shape errors (a kernel larger than its input, ...) surface here, before
  # anything is written, without computing anything.
  shape = preprocess_input_shape(config.preprocess)
  try:
    jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1,) + shape))
  except ValueError as e:
    raise ConfigError(f"model {config.model!r} cannot take the {'x'.join(map(str, shape))} "
                      f"inputs of config.preprocess={config.preprocess!r}: {e}. Choose a "
                      f"preprocess that fits the model (LeNet-4/5 take 32x32: "
                      f"lecun_pad32)") from None
  # In a multi-host job every process trains; process 0 alone writes.
  primary = jax.process_index() == 0
  for seed, workdir in zip(seeds, workdirs):
    if primary:
      workdir_lib.prepare(workdir, overwrite=overwrite)
      workdir_lib.write_json(os.path.join(workdir, "config.json"),
                             dict(config.to_dict(), seed=seed))

  many = len(seeds) > 1
  steps = len(train_split) // config.batch_size
  tx = make_optimizer(config, steps)
  schedule = learning_rate_schedule(config, steps)
  keys = jnp.stack([jax.random.split(jax.random.key(seed)) for seed in seeds])
  init_keys, data_keys = (keys[:, 0], keys[:, 1]) if many else (keys[0, 0], keys[0, 1])
  preprocess = fit_preprocessor(config.preprocess, train_split.images)
  init = per_model(lambda key: init_state(model, tx, key, shape), 0, many)
  state = placement.replicate(jax.jit(init)(init_keys))
  params = count_params(state.params) // len(seeds)
  loop = resolve_loop(config.loop)
  train_step = make_train_step(model, tx, config.l1, config.l2, config.label_smoothing)
  compile_epoch, run_epoch = make_epoch_runner(train_step, augment, preprocess,
                                               config.batch_size, steps, loop, many, placement)
  evaluate = make_evaluator(model, preprocess, config.eval_batch_size, many, placement)
  train_dev = placement.replicate(to_device(train_split))
  valid_dev = placement.replicate(to_device(data.valid, config.eval_batch_size))
  test_dev = placement.replicate(to_device(data.test, config.eval_batch_size))
  log(f"{config.model}: {params:,} parameters; {len(train_split):,} train / "
      f"{len(data.valid):,} valid / {len(data.test):,} test examples; {config.epochs} epochs "
      f"of {steps} steps (batch {config.batch_size}, {config.optimizer} lr "
      f"{config.learning_rate:g} {config.schedule}); seed{'s' if many else ''} "
      f"{', '.join(map(str, seeds))}; {jax.default_backend()} x{placement.num_devices}, "
      f"loop={loop}")

  orders_for = jax.jit(per_model(
      lambda key, epoch: epoch_permutation(jax.random.fold_in(key, epoch), len(train_split)),
      (0, None), many))
  t = time.perf_counter()
  compile_epoch(state, train_dev, orders_for(data_keys, 0))
  evaluate(state.variables(), valid_dev)
  compile_seconds = time.perf_counter() - t

  histories: list[list[dict[str, Any]]] = [[] for _ in seeds]
  stopping = (EarlyStopping.start(len(seeds), config.early_stopping_patience)
              if config.early_stopping_patience else None)
  kept = None  # with early stopping: each seed's best variables so far
  train_seconds = 0.0
  for epoch in range(1, config.epochs + 1):
    running = stopping.running if stopping else np.ones(len(seeds), bool)
    orders = orders_for(data_keys, epoch)
    t = time.perf_counter()
    state, totals = run_epoch(state, train_dev, orders, Progress(epoch, config.epochs, steps))
    totals = {k: np.atleast_1d(v) for k, v in jax.device_get(totals).items()}
    epoch_seconds = time.perf_counter() - t
    train_seconds += epoch_seconds
    t = time.perf_counter()
    valid = evaluate(state.variables(), valid_dev)
    # For time-to-accuracy benchmarks only: choosing anything by it would fit the test set.
    test_now = evaluate(state.variables(), test_dev) if config.test_every_epoch else None
    eval_seconds = time.perf_counter() - t
    for i, workdir in enumerate(workdirs):
      if not running[i]:
        continue  # this seed has stopped early: later epochs are not its own
      record = {
          "epoch": epoch,
          "train_loss": float(totals["loss"][i] / totals["count"][i]),
          "train_accuracy": float(totals["correct"][i] / totals["count"][i]),
          "valid_loss": valid[i]["loss"],
          "valid_accuracy": valid[i]["accuracy"],
          "learning_rate": float(schedule(epoch * steps - 1)),
          "epoch_seconds": epoch_seconds / len(seeds),
          "eval_seconds": eval_seconds / len(seeds),
          "examples_per_second": len(seeds) * steps * config.batch_size / epoch_seconds,
          "wall_time": time.time(),
      }
      if test_now is not None:
        record["test_accuracy"] = test_now[i]["accuracy"]
      if primary:
        workdir_lib.append_jsonl(os.path.join(workdir, "metrics.jsonl"), record)
      histories[i].append(record)
    last = [h[-1] for h in histories]
    mean = lambda key: float(np.mean([r[key] for r in last]))
    log(f"epoch {epoch:3d}/{config.epochs}  loss {mean('train_loss'):.4f}  "
        f"acc {mean('train_accuracy'):.4f}  valid loss {mean('valid_loss'):.4f}  "
        f"valid acc {mean('valid_accuracy'):.4f}{' (mean of seeds)' if many else ''}  "
        f"{epoch_seconds:.1f}s ({len(seeds) * steps * config.batch_size / epoch_seconds:,.0f} "
        f"ex/s)")
    if stopping is not None:
      improved = stopping.update(epoch, [1.0 - v["accuracy"] for v in valid])
      current = state.variables()
      kept = keep_best(jnp.asarray(improved if many else improved[0]), current,
                       current if kept is None else kept)
      for i in np.flatnonzero(stopping.stopped_epoch == epoch):
        log(f"seed {seeds[i]}: no better validation error for {stopping.patience} epochs; "
            f"stopped, restoring epoch {stopping.best_epoch[i]} (valid error "
            f"{100 * stopping.best_error[i]:.2f}%)")
      if stopping.done:
        break
    if not all(math.isfinite(r[k]) for r in last for k in ("train_loss", "valid_loss")):
      log(f"epoch {epoch}: the loss is not finite (learning rate {config.learning_rate:g} "
          f"too large?); stopping")
      break

  final = state.variables() if stopping is None else kept
  test = evaluate(final, test_dev)
  epochs_run = max(len(h) for h in histories)
  summaries = []
  for i, (seed, workdir) in enumerate(zip(seeds, workdirs)):
    history = histories[i]
    # The epoch whose variables are tested: the last, or the best when stopping early.
    chosen = history[-1] if stopping is None else history[stopping.best_epoch[i] - 1]
    summary = {
        "model": config.model,
        "model_kwargs": {k: v for k, v in config.model_kwargs.to_dict().items()
                         if v is not None},
        "params": params,
        "epochs": len(history),
        "seed": seed,
        "test_accuracy": test[i]["accuracy"],
        "test_error": 1.0 - test[i]["accuracy"],
        "test_loss": test[i]["loss"],
        "valid_accuracy": chosen["valid_accuracy"],
        "valid_error": 1.0 - chosen["valid_accuracy"],
        "train_accuracy": chosen["train_accuracy"],
        # With several seeds in lockstep, times are the shared wall time / seeds.
        "train_seconds": train_seconds / len(seeds),
        "compile_seconds": compile_seconds,
        "seconds_per_epoch": train_seconds / len(seeds) / epochs_run,
        "examples_per_second": len(seeds) * epochs_run * steps * config.batch_size
                               / train_seconds,
        "total_seconds": time.perf_counter() - start,
        "seeds_trained_together": len(seeds),
        "peak_memory_mb": peak_memory_mb(),
        "platform": jax.default_backend(),
        "devices": placement.num_devices,
        "loop": loop,
        "train_examples": len(train_split),
    }
    if stopping is not None:
      summary.update(early_stopping_patience=stopping.patience,
                     best_epoch=int(stopping.best_epoch[i]),
                     stopped_epoch=int(stopping.stopped_epoch[i] or len(history)),
                     stopped_early=bool(stopping.stopped_epoch[i]))
    variables = final
    if many:
      variables = jax.tree.map(lambda x, i=i: x[i], variables)
    if primary:
      workdir_lib.save_variables(workdir, jax.device_get(variables))
      workdir_lib.write_json(os.path.join(workdir, "summary.json"), summary)
      plot_curves(history, os.path.join(workdir, "curves.png"),
                  f"{config.model}, seed {seed}: test error {100 * summary['test_error']:.2f}%")
    summaries.append(summary)
  return summaries
