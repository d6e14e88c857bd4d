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

import contextlib
import dataclasses
import os
import time
from typing import Any, Callable, Sequence

import jax
import optax
from ml_collections import ConfigDict

from convnets import models
from convnets.data import MNIST, load
from convnets.data.device import epoch_permutation
from convnets.train import fit, interrupts, records, resume
from convnets.train.phases import Phases
from convnets.train import workdir as workdir_lib
from convnets.train.checkpoints import Snapshot
from convnets.train.checks import check_config, check_divisible, check_model_input
from convnets.train.epochs import make_epoch_runner, make_evaluator, resolve_loop
from convnets.train.optim import fixed_params, learning_rate_schedule, make_optimizer
from convnets.train.pipeline import Pipeline, build_pipeline, model_input_shape, preprocess_name
from convnets.train.placement import Lockstep, Placement
from convnets.train.state import TrainState, count_params
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
  compile_evaluation: Callable
  evaluate: Callable
  orders: Callable[[int], jax.Array]  # epoch -> each model's order of the training examples
  schedule: optax.Schedule


def make_trainer(config: ConfigDict, *, model, pipeline: Pipeline, lockstep: Lockstep,
                 placement: Placement) -> Trainer:
  """Initialise the state of every seed and build the jitted epoch and evaluation."""
  steps = pipeline.train_examples // config.batch_size
  tx = make_optimizer(config.optimizer, config.epochs, steps, fixed=fixed_params(model))
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
  compile_evaluation, evaluate = make_evaluator(
      model=model, pipeline=pipeline, chunk=config.eval_batch_size, lockstep=lockstep,
      placement=placement)
  n = pipeline.train_examples
  orders_for = jax.jit(lockstep.map(
      lambda key, epoch: epoch_permutation(jax.random.fold_in(key, epoch), n), (0, None)))
  params = count_params(state.params) // len(lockstep.seeds)
  return Trainer(state=state, steps=steps, loop=loop, params=int(params), run_epoch=run_epoch,
                 compile_epoch=compile_epoch, compile_evaluation=compile_evaluation,
                 evaluate=evaluate,
                 orders=lambda epoch: placement.replicate(orders_for(data_keys, epoch)),
                 # jitted: op by op, every call would dispatch each of its operations
                 schedule=jax.jit(learning_rate_schedule(config.optimizer, config.epochs, steps)))


def compile_all(trainer: Trainer, pipeline: Pipeline) -> None:
  """Compile the epoch and the evaluation."""
  trainer.compile_epoch(trainer.state, trainer.orders(0))
  trainer.compile_evaluation(trainer.state.variables(), pipeline.valid)


def run_facts(config: ConfigDict, trainer: Trainer, done: Snapshot, *, seeds: int,
              devices: int, train_examples: int, phases: Phases, start: float
              ) -> dict[str, Any]:
  """The summary fields every seed of the run shares. With several seeds in
  lockstep, times are the shared wall time divided by the seeds, but for
  ``phase_seconds``, the wall time of each phase (:mod:`convnets.train.phases`;
  ``outputs`` is each seed's own, added as its files are written)."""
  longest = max(done.histories, key=len)
  epochs_run = max(1, len(longest))
  train_seconds = max(done.train_seconds, 1e-9)
  phases.add("train", done.train_seconds)
  phases.add("validate", seeds * sum(r["eval_seconds"] for r in longest))
  compile_seconds = phases.seconds["compile"]
  return {
      "params": trainer.params,
      "dataset": config.data.name,
      "preprocess": preprocess_name(config),
      "train_seconds": done.train_seconds / seeds,
      "compile_seconds": compile_seconds,
      "seconds_per_epoch": done.train_seconds / seeds / epochs_run,
      "examples_per_second": seeds * epochs_run * trainer.steps * config.batch_size
                             / train_seconds,
      "total_seconds": time.perf_counter() - start,
      "seeds_trained_together": seeds,
      "peak_memory_mb": records.peak_memory_mb(),
      "platform": jax.default_backend(),
      "devices": devices,
      "loop": trainer.loop,
      "train_examples": train_examples,
      "phase_seconds": dict(phases.seconds),
  }


def finish(config: ConfigDict, done: Snapshot, test: list[dict[str, float]], *,
           lockstep: Lockstep, workdirs: Sequence[str], facts: dict[str, Any],
           pipeline: Pipeline, primary: bool, log: Log) -> list[dict[str, Any]]:
  """Each seed's summary: printed first, then written after its variables
  (``summary.json`` last, with the seconds the variables took)."""
  variables = done.state.variables() if done.stopping is None else done.kept
  summaries = []
  for i, (seed, workdir) in enumerate(zip(lockstep.seeds, workdirs)):
    history, stopping = done.histories[i], done.stopping
    chosen = history[-1] if stopping is None else history[stopping.best_epoch[i] - 1]
    result = records.summary(config=config, seed=seed, history=history, chosen=chosen,
                             test=test[i], facts=facts, diverged_epoch=int(done.diverged[i]))
    if stopping is not None:
      result.update(records.stopping_fields(stopping, i, len(history)))
    log(records.result_line(result))
    if primary:
      started = time.perf_counter()
      records.write_outputs(workdir, variables=lockstep.take(variables, i),
                            preprocess_state=pipeline.preprocess_state)
      result["phase_seconds"] = {**result["phase_seconds"],
                                 "outputs": time.perf_counter() - started}
      records.write_summary(workdir, result)
    summaries.append(result)
  return summaries


def setup(config: ConfigDict, seeds: Sequence[int], data: MNIST | None, data_dir: str | None,
          download: bool) -> tuple[Any, Placement, MNIST, Pipeline]:
  """Check the config and the model's input, place the arrays, build the
  data pipeline: everything that can fail before a file is written."""
  check_config(config)
  model = models.build(config.model)
  placement = Placement(config.num_devices)
  check_divisible(config, placement.num_devices)
  check_model_input(model, config, model_input_shape(config), preprocess_name(config))
  if data is None:
    data = load(data_dir, source=config.data.source, name=config.data.name,
                download_missing=download, train_size=config.data.train_size)
  return model, placement, data, build_pipeline(config, data, placement)


def train_seeds(config: ConfigDict, seeds: Sequence[int], workdirs: Sequence[str], *,
                data: MNIST | None = None, data_dir: str | None = None,
                download: bool = False, overwrite: bool = False,
                log: Log = print) -> list[dict[str, Any]]:
  """Train one model per seed under ``config``, each into its own workdir;
  several seeds train together in lockstep (:class:`~convnets.train.placement.
  Lockstep`: same data set, each seed its own initialisation, data order and
  augmentation). A workdir that holds an unfinished run of the same config
  resumes from its checkpoint (:mod:`convnets.train.resume`). Returns one
  summary per seed."""
  start, phases = time.perf_counter(), Phases()
  if len(seeds) != len(workdirs) or not seeds:
    raise ValueError(f"need one workdir per seed, got {len(seeds)} seeds and "
                     f"{len(workdirs)} workdirs")
  # A signal between two runs (of an experiment) stops before the next.
  interrupts.stop_if_pending(f"before training {', '.join(workdirs)}; run the same command "
                             "again to train it")
  lockstep = Lockstep(tuple(seeds))
  with phases.phase("data"):
    model, placement, data, pipeline = setup(config, seeds, data, data_dir, download)
  primary = jax.process_index() == 0  # in a multi-host job every process trains; one writes
  with contextlib.ExitStack() as held, interrupts.deferred():
    plans = resume.claim(config, seeds, workdirs, overwrite=overwrite, primary=primary,
                         held=held, log=log)
    with phases.phase("compile"):
      trainer = make_trainer(config, model=model, pipeline=pipeline, lockstep=lockstep,
                             placement=placement)
    log(records.start_line(config, params=trainer.params, steps=trainer.steps, seeds=seeds,
                           examples=(pipeline.train_examples, len(data.valid), len(data.test)),
                           devices=placement.num_devices, loop=trainer.loop))
    with phases.phase("compile"):
      compile_all(trainer, pipeline)
    snapshot, checkpoints = resume.start(config, trainer, lockstep, plans, workdirs, log)
    events = []
    if primary and config.tensorboard:
      from convnets.train.tensorboard import EventWriter  # tensorboardX only when asked for
      events = [held.enter_context(EventWriter(w)) for w in workdirs]
    try:
      snapshot = dataclasses.replace(snapshot, state=placement.replicate(snapshot.state))
      fit_ = fit.Fit(config=config, trainer=trainer, pipeline=pipeline, lockstep=lockstep,
                     workdirs=workdirs, primary=primary, checkpoints=checkpoints,
                     events=events, log=log)
      done = fit.run_epochs(fit_, snapshot)
    finally:
      if checkpoints is not None:
        checkpoints.close()
    variables = done.state.variables() if done.stopping is None else done.kept
    # The pictures reuse the test predictions, unless the test split is spread over
    # processes (then each holds part of them, and the pictures predict again).
    keep_predictions = config.pictures and primary and jax.process_count() == 1
    with phases.phase("test"):
      test = trainer.evaluate(variables, pipeline.test, predictions=keep_predictions)
    test, predictions = test if keep_predictions else (test, None)
    facts = run_facts(config, trainer, done, seeds=len(seeds), devices=placement.num_devices,
                      train_examples=pipeline.train_examples, phases=phases, start=start)
    summaries = finish(config, done, test, lockstep=lockstep, workdirs=workdirs, facts=facts,
                       pipeline=pipeline, primary=primary, log=log)
    if primary:
      for i, (workdir, result) in enumerate(zip(workdirs, summaries)):
        workdir_lib.discard_replaced(workdir)
        # After summary.json: the figures are derived from the run's files.
        records.write_figures(
            workdir, config=config, result=result, history=done.histories[i], test=data.test,
            class_names=data.class_names,
            predictions=None if predictions is None else predictions[i, :len(data.test)],
            log=log)
        for writer in events[i:i + 1]:
          writer.image("curves", os.path.join(workdir, records.CURVES),
                       step=len(done.histories[i]))
  return summaries


def train_and_evaluate(config: ConfigDict, workdir: str, **kwargs: Any) -> dict[str, Any]:
  """Train ``config.model`` with ``config.seed`` on MNIST, validating every
  epoch and testing at the end; write config, metrics, summary, curves and
  variables to ``workdir``. Keyword arguments as for :func:`train_seeds`.
  Returns the summary (also ``workdir/summary.json``)."""
  return train_seeds(config, [config.seed], [workdir], **kwargs)[0]
