"""Fit and test a classical method (:mod:`convnets.classical`) into a run
folder, with the files a trained network's run leaves (:mod:`convnets.
train.workdir`): ``config.json``, an empty ``metrics.jsonl`` (no epochs to
record) and ``summary.json`` with the test and validation errors, the
fitting and testing times, what was chosen on the validation split and the
recipe in words.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import ConfigDict

from convnets import classical
from convnets.configs import configure
from convnets.data import MNIST
from convnets.data.preprocessing import make_preprocessor
from convnets.train import interrupts, resume
from convnets.train import workdir as workdir_lib
from convnets.train.pipeline import training_split

Log = Callable[[str], None]
BATCH = 5_000  # images preprocessed at a time


def inputs(images: np.ndarray, preprocess: str) -> jax.Array:
  """``(N, 28, 28)`` uint8 -> ``(N, D)`` float32 on the device: the
  preprocessor ``preprocess`` (``auto``: pixels in [0, 1]), flattened."""
  apply = jax.jit(make_preprocessor("scale" if preprocess == "auto" else preprocess, {}))
  return jnp.concatenate([apply(jnp.asarray(images[i:i + BATCH])).reshape(
      min(BATCH, len(images) - i), -1) for i in range(0, len(images), BATCH)])


def stored_numbers(state: Any) -> int:
  """How many numbers the fitted classifier keeps: its arrays' sizes (an
  SVM's support vectors, dual coefficients and biases)."""
  if isinstance(state, dict):
    return sum(stored_numbers(v) for v in state.values())
  if hasattr(state, "support_vectors_"):
    return int(state.support_vectors_.size + state.dual_coef_.size + state.intercept_.size)
  return int(np.size(state)) if isinstance(state, (jax.Array, np.ndarray)) else 0


def recipe(config: ConfigDict, chosen: dict[str, Any], train_examples: int,
           note: str = "") -> str:
  """The run's recipe in words: method, settings, input, training set, the
  epochs of what it trains, choices, and the method's ``note``."""
  section = {k: v for k, v in config.model.items() if k != "name"}
  name = config.model.name
  parts = [classical.METHODS[name].description,
           ", ".join(f"{k}={v}" for k, v in section.items()) or "no settings",
           f"input `{config.data.preprocess}`", f"{train_examples:,} training digits"]
  if classical.takes_epochs(name) or classical.takes(name, "config"):
    parts.append(f"{config.epochs} epochs")
  if chosen:
    parts.append("chosen on validation: " + ", ".join(f"{k}={v}" for k, v in chosen.items()))
  return "; ".join(parts + ([note] if note else []))


def context(config: ConfigDict, seed: int, folder: str, data: MNIST, log: Log
            ) -> dict[str, Any]:
  """What method ``config.model.name``'s fit declares of ``classical.CONTEXT``
  but its key."""
  given = {"epochs": config.epochs, "config": configure(config, {"seed": seed}),
           "data": data, "folder": folder, "log": log}
  return {k: v for k, v in given.items() if classical.takes(config.model.name, k)}


def fit_and_test(config: ConfigDict, seed: int, folder: str, *, data: MNIST,
                 log: Log = print) -> dict[str, Any]:
  """Fit ``config.model``'s method on ``data.train`` (its first
  ``config.data.train_subset`` examples where that is set; choices on
  ``data.valid``), test it on ``data.test``, and write ``folder``'s files.
  Returns the summary."""
  # As before a network's run: a signal between two runs stops before the next.
  interrupts.stop_if_pending(f"before fitting {folder}; run the same command again to fit it")
  start = time.perf_counter()
  name = config.model.name
  method = classical.METHODS[name]
  settings = {k: v for k, v in config.model.items() if k != "name"}
  splits = (training_split(config, data), data.valid, data.test)
  train, valid, test = (inputs(split.images, config.data.preprocess) for split in splits)
  labels = [jnp.asarray(split.labels) for split in splits]
  workdir_lib.make_folder(folder)
  workdir_lib.write_json(os.path.join(folder, workdir_lib.CONFIG), resume.run_config(config, seed))
  fitted = time.perf_counter()
  state, chosen = method.fit(train, labels[0], valid, labels[1], key=jax.random.key(seed),
                             **settings, **context(config, seed, folder, data, log))
  jax.block_until_ready(state)
  fit_seconds = time.perf_counter() - fitted
  log(f"fitted in {fit_seconds:.1f} s" + (f" ({chosen})" if chosen else ""))
  valid_error = float(jnp.mean(method.predict(state, valid) != labels[1]))
  tested = time.perf_counter()
  test_error = float(jnp.mean(jax.block_until_ready(method.predict(state, test)) != labels[2]))
  test_seconds = time.perf_counter() - tested
  log(f"test error {100 * test_error:.2f}%, tested in {test_seconds:.1f} s")
  params = stored_numbers(state)
  extra = dict(state.get("summary", {})) if isinstance(state, dict) else {}
  note = extra.pop("note", "")
  summary = {
      "model": name, "model_kwargs": {k: v for k, v in config.model.items() if k != "name"},
      "classical": True, "seed": seed, "epochs": config.epochs,
      "params": params, "connections": params,
      "test_error": test_error, "test_accuracy": 1 - test_error,
      "valid_error": valid_error, "valid_accuracy": 1 - valid_error, "train_accuracy": None,
      "fit_seconds": fit_seconds, "test_seconds": test_seconds,
      "train_seconds": fit_seconds, "seconds_per_epoch": fit_seconds,
      "total_seconds": time.perf_counter() - start, "chosen": chosen,
      "recipe": recipe(config, chosen, len(splits[0]), note),
      "train_examples": len(splits[0]), "platform": jax.default_backend(), **extra,
  }
  workdir_lib.write_jsonl(os.path.join(folder, workdir_lib.METRICS), [])
  workdir_lib.write_json(os.path.join(folder, workdir_lib.SUMMARY), summary)
  return summary


def seeds_to_run(config: ConfigDict, seeds: Sequence[int]) -> list[int]:
  """Every seed for a stochastic method; the first alone for a deterministic one."""
  return list(seeds) if classical.METHODS[config.model.name].stochastic else list(seeds[:1])
