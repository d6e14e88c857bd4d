"""``train_and_evaluate(config, workdir)``: one training run, start to finish.

It reads top to bottom by phase: check the config and the model's input
(:mod:`~convnets.train.checks`), place the arrays (:mod:`~convnets.train.placement`),
build the data pipeline (:mod:`~convnets.train.pipeline`), compile the epoch
and the evaluation (:mod:`~convnets.train.epochs`), train epoch by epoch,
test, and write the records (:mod:`~convnets.train.records`). Nothing is
written until the config, the model and the data have been checked.

With ``config.early_stopping_patience > 0`` training stops once the
validation error has not improved for that many epochs, and the best epoch's
variables are restored, saved and tested (:mod:`convnets.train.early_stopping`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Any, Callable, Sequence

import jax
import numpy as np
import optax
from ml_collections import ConfigDict

from convnets import models
from convnets.data import MNIST, load
from convnets.data.device import epoch_permutation
from convnets.train import records
from convnets.train import workdir as workdir_lib
from convnets.train.checks import check_config, check_divisible, check_model_input
from convnets.train.early_stopping import EarlyStopping, keep_best
from convnets.train.epochs import Progress, make_epoch_runner, make_evaluator, resolve_loop
from convnets.train.optim import learning_rate_schedule, make_optimizer
from convnets.train.pipeline import Pipeline, build_pipeline, model_input_shape, preprocess_name
from convnets.train.placement import Lockstep, Placement
from convnets.train.state import TrainState
from convnets.train.step import init_state, make_train_step

Log = Callable[[str], None]


@dataclasses.dataclass
class Trainer:
  """A run's compiled pieces and its current state (models axis per ``lockstep``)."""
  state: TrainState
  steps: int
  loop: str
  params: int
  run_epoch: Callable
  compile_epoch: Callable
  evaluate: Callable
  orders: Callable[[int], jax.Array]  # epoch -> each model's order of the training examples
  schedule: optax.Schedule


def make_trainer(config: ConfigDict, *, model, pipeline: Pipeline, lockstep: Lockstep,
                 placement: Placement) -> Trainer:
  """Initialise the state of every seed and build the jitted epoch and evaluation."""
  steps = pipeline.train_examples // config.batch_size
  tx = make_optimizer(config.optimizer, config.epochs, steps)
  init_keys, data_keys = lockstep.keys()
  shape = model_input_shape(config)
  init = lockstep.map(lambda key: init_state(model, tx, key, shape), 0)
  state = placement.replicate(jax.jit(init)(init_keys))
  loop = resolve_loop(config.loop)
  train_step = make_train_step(model, tx, l1=config.loss.l1, l2=config.loss.l2,
                               label_smoothing=config.loss.label_smoothing)
  compile_epoch, run_epoch = make_epoch_runner(
      train_step=train_step, pipeline=pipeline, batch_size=config.batch_size, steps=steps,
      loop=loop, lockstep=lockstep, placement=placement)
  evaluate = make_evaluator(model=model, pipeline=pipeline, chunk=config.eval_batch_size,
                            lockstep=lockstep, placement=placement)
  n = pipeline.train_examples
  orders_for = jax.jit(lockstep.map(
      lambda key, epoch: epoch_permutation(jax.random.fold_in(key, epoch), n), (0, None)))
  params = sum(x.size for x in jax.tree.leaves(state.params)) // len(lockstep.seeds)
  return Trainer(state=state, steps=steps, loop=loop, params=int(params), run_epoch=run_epoch,
                 compile_epoch=compile_epoch, evaluate=evaluate,
                 orders=lambda epoch: orders_for(data_keys, epoch),
                 schedule=learning_rate_schedule(config.optimizer, config.epochs, steps))


def compile_all(trainer: Trainer, pipeline: Pipeline) -> float:
  """Compile the epoch and the evaluation; returns the seconds it took."""
  t = time.perf_counter()
  trainer.compile_epoch(trainer.state, trainer.orders(0))
  trainer.evaluate(trainer.state.variables(), pipeline.valid)
  return time.perf_counter() - t


def train_epoch(config: ConfigDict, trainer: Trainer, pipeline: Pipeline, epoch: int
                ) -> tuple[list[dict[str, Any]], records.EpochTiming]:
  """Train one epoch, validate (and test, with ``config.test_every_epoch``);
  returns each seed's record of it and the epoch's timing."""
  t = time.perf_counter()
  trainer.state, totals = trainer.run_epoch(trainer.state, trainer.orders(epoch),
                                            Progress(epoch, config.epochs, trainer.steps))
  totals = {k: np.atleast_1d(v) for k, v in jax.device_get(totals).items()}
  train_seconds = time.perf_counter() - t
  t = time.perf_counter()
  valid = trainer.evaluate(trainer.state.variables(), pipeline.valid)
  # For time-to-accuracy benchmarks only: choosing anything by it would fit the test set.
  test = (trainer.evaluate(trainer.state.variables(), pipeline.test)
          if config.test_every_epoch else None)
  timing = records.EpochTiming(train=train_seconds, evaluate=time.perf_counter() - t,
                               examples=trainer.steps * config.batch_size)
  rate = float(trainer.schedule(epoch * trainer.steps - 1))
  return records.epoch_records(epoch, totals, valid, test, rate, timing), timing


@dataclasses.dataclass
class Trained:
  """The outcome of the epochs: each seed's records, the variables to test
  (the last epoch's, or each seed's best with early stopping), the wall time."""
  histories: list[list[dict[str, Any]]]
  variables: Any
  stopping: EarlyStopping | None
  train_seconds: float


def run_epochs(config: ConfigDict, trainer: Trainer, pipeline: Pipeline, *,
               lockstep: Lockstep, workdirs: Sequence[str], primary: bool, log: Log) -> Trained:
  """Train epoch by epoch until ``config.epochs``, early stopping or a
  non-finite loss, appending each seed's record to its ``metrics.jsonl``."""
  seeds = lockstep.seeds
  histories: list[list[dict[str, Any]]] = [[] for _ in seeds]
  patience = config.early_stopping_patience
  stopping = EarlyStopping.start(len(seeds), patience) if patience else None
  kept, train_seconds = None, 0.0
  for epoch in range(1, config.epochs + 1):
    running = stopping.running if stopping else np.ones(len(seeds), bool)
    epoch_records, timing = train_epoch(config, trainer, pipeline, epoch)
    train_seconds += timing.train
    for i in np.flatnonzero(running):  # a seed that stopped early keeps its own epochs
      histories[i].append(epoch_records[i])
      if primary:
        workdir_lib.append_jsonl(os.path.join(workdirs[i], "metrics.jsonl"), epoch_records[i])
    last = [h[-1] for h in histories]
    log(records.epoch_line(epoch, config.epochs, last, timing))
    if stopping is not None:
      improved = stopping.update(epoch, [1.0 - r["valid_accuracy"] for r in epoch_records])
      current = trainer.state.variables()
      kept = keep_best(lockstep.select(improved), current, current if kept is None else kept)
      for i in np.flatnonzero(stopping.stopped_epoch == epoch):
        log(f"seed {seeds[i]}: no better validation error for {patience} epochs; stopped, "
            f"restoring epoch {stopping.best_epoch[i]} (valid error "
            f"{100 * stopping.best_error[i]:.2f}%)")
      if stopping.done:
        break
    if not all(math.isfinite(r[k]) for r in last for k in ("train_loss", "valid_loss")):
      log(f"epoch {epoch}: the loss is not finite (learning rate "
          f"{config.optimizer.learning_rate:g} too large?); stopping")
      break
  variables = trainer.state.variables() if stopping is None else kept
  return Trained(histories, variables, stopping, train_seconds)


def run_facts(config: ConfigDict, trainer: Trainer, trained: Trained, *, seeds: int,
              devices: int, train_examples: int, compile_seconds: float, start: float
              ) -> dict[str, Any]:
  """The summary fields every seed of the run shares. With several seeds in
  lockstep, times are the shared wall time divided by the seeds."""
  epochs_run = max(len(h) for h in trained.histories)
  return {
      "params": trainer.params,
      "preprocess": preprocess_name(config),
      "train_seconds": trained.train_seconds / seeds,
      "compile_seconds": compile_seconds,
      "seconds_per_epoch": trained.train_seconds / seeds / epochs_run,
      "examples_per_second": seeds * epochs_run * trainer.steps * config.batch_size
                             / trained.train_seconds,
      "total_seconds": time.perf_counter() - start,
      "seeds_trained_together": seeds,
      "peak_memory_mb": records.peak_memory_mb(),
      "platform": jax.default_backend(),
      "devices": devices,
      "loop": trainer.loop,
      "train_examples": train_examples,
  }


def finish(config: ConfigDict, trained: Trained, test: list[dict[str, float]], *,
           lockstep: Lockstep, workdirs: Sequence[str], facts: dict[str, Any],
           pipeline: Pipeline, primary: bool) -> list[dict[str, Any]]:
  """Each seed's summary, written with its variables and curves."""
  summaries = []
  for i, (seed, workdir) in enumerate(zip(lockstep.seeds, workdirs)):
    history, stopping = trained.histories[i], trained.stopping
    chosen = history[-1] if stopping is None else history[stopping.best_epoch[i] - 1]
    result = records.summary(config=config, seed=seed, history=history, chosen=chosen,
                             test=test[i], facts=facts)
    if stopping is not None:
      result.update(records.stopping_fields(stopping, i, len(history)))
    if primary:
      records.write_outputs(workdir, result=result, history=history,
                            variables=lockstep.take(trained.variables, i),
                            preprocess_state=pipeline.preprocess_state)
    summaries.append(result)
  return summaries


def prepare_workdirs(config: ConfigDict, seeds: Sequence[int], workdirs: Sequence[str],
                     overwrite: bool) -> None:
  """Create each seed's workdir and write its ``config.json``."""
  for seed, workdir in zip(seeds, workdirs):
    workdir_lib.prepare(workdir, overwrite=overwrite)
    workdir_lib.write_json(os.path.join(workdir, "config.json"),
                           dict(config.to_dict(), seed=seed))


def train_seeds(config: ConfigDict, seeds: Sequence[int], workdirs: Sequence[str], *,
                data: MNIST | None = None, data_dir: str | None = None,
                download: bool = False, overwrite: bool = False,
                log: Log = print) -> list[dict[str, Any]]:
  """Train one model per seed under ``config``, each into its own workdir;
  several seeds train together in lockstep (:class:`~convnets.train.placement.
  Lockstep`: same data set, each seed its own initialisation, data order and
  augmentation). Returns one summary per seed."""
  start = time.perf_counter()
  check_config(config)
  if len(seeds) != len(workdirs) or not seeds:
    raise ValueError(f"need one workdir per seed, got {len(seeds)} seeds and "
                     f"{len(workdirs)} workdirs")
  lockstep = Lockstep(tuple(seeds))
  model = models.build(config.model)
  placement = Placement(config.num_devices)
  check_divisible(config, placement.num_devices)
  check_model_input(model, config, model_input_shape(config), preprocess_name(config))
  if data is None:
    data = load(data_dir, source=config.data.source, download_missing=download,
                train_size=config.data.train_size)
  pipeline = build_pipeline(config, data, placement)
  primary = jax.process_index() == 0  # in a multi-host job every process trains; one writes
  if primary:
    prepare_workdirs(config, seeds, workdirs, overwrite)

  trainer = make_trainer(config, model=model, pipeline=pipeline, lockstep=lockstep,
                         placement=placement)
  log(records.start_line(config, params=trainer.params, steps=trainer.steps, seeds=seeds,
                         examples=(pipeline.train_examples, len(data.valid), len(data.test)),
                         devices=placement.num_devices, loop=trainer.loop))
  compile_seconds = compile_all(trainer, pipeline)
  trained = run_epochs(config, trainer, pipeline, lockstep=lockstep, workdirs=workdirs,
                       primary=primary, log=log)
  test = trainer.evaluate(trained.variables, pipeline.test)
  facts = run_facts(config, trainer, trained, seeds=len(seeds), devices=placement.num_devices,
                    train_examples=pipeline.train_examples, compile_seconds=compile_seconds,
                    start=start)
  return finish(config, trained, test, lockstep=lockstep, workdirs=workdirs, facts=facts,
                pipeline=pipeline, primary=primary)


def train_and_evaluate(config: ConfigDict, workdir: str, **kwargs: Any) -> dict[str, Any]:
  """Train ``config.model`` with ``config.seed`` on MNIST, validating every
  epoch and testing at the end; write config, metrics, summary, curves and
  variables to ``workdir``. Keyword arguments as for :func:`train_seeds`.
  Returns the summary (also ``workdir/summary.json``)."""
  return train_seeds(config, [config.seed], [workdir], **kwargs)[0]
