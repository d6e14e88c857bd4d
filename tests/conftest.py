"""Shared fixtures. The MNIST tests find the data where the library does:
``$CONVNETS_DATA_DIR`` (``.ci/run`` points it at the shared copy), else the
per-user cache (``~/.cache/convnets/mnist``; see
:func:`convnets.data.mnist.candidate_dirs`)."""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import jax
import pytest

from convnets import compilation_cache
from convnets.data import MNIST, DataError, load
from convnets.data.mnist import find_files
from convnets.experiment import stats

# On GPUs from Ampere on, XLA multiplies float32 in TF32 by default (a 10-bit
# mantissa: relative errors of order 1e-3).
# The tests check the math against float64 references at 1e-5, so they ask for
# full float32 everywhere; on CPU this changes nothing.
jax.config.update("jax_default_matmul_precision", "highest")


@pytest.fixture(scope="session", autouse=True)
def shared_compilation_cache(tmp_path_factory) -> None:
  """One persistent compilation cache for the tests in this process: many of
  them train the same small networks on the same shapes, and a cache hit is
  the same executable, so the same numbers. (Commands run as subprocesses
  keep their own cache, as a user's would.)"""
  compilation_cache.enable(str(tmp_path_factory.mktemp("xla")))


@pytest.fixture(scope="session")
def mnist() -> MNIST:
  """The real MNIST splits, found by the library's own lookup; fails (not
  skips), with the library's message, when no data folder holds them."""
  try:
    return load()
  except DataError as e:
    pytest.fail(str(e))


@pytest.fixture(scope="session")
def mnist_dir() -> str:
  """The folder the library's lookup finds the four MNIST IDX files in (as :func:`mnist`)."""
  try:
    # Absolute: subprocesses and kernels run elsewhere (CI's path is relative).
    return os.path.abspath(os.path.dirname(find_files(None)["train_images"]))
  except DataError as e:
    pytest.fail(str(e))


def fake_run(seed: int, error: float | None) -> dict[str, Any]:
  """A run of one epoch with test error ``error`` (validation error and
  training accuracy derived from it); None: a run that diverged, with no
  metrics."""
  if error is None:
    return {"seed": seed, "status": "diverged", "test_error": None, "test_accuracy": None,
            "valid_error": None, "train_accuracy": None, "epochs": 1, "seconds_per_epoch": 1.0,
            "curves": []}
  return {"seed": seed, "test_error": error, "test_accuracy": 1 - error, "valid_error": error,
          "train_accuracy": 1 - error / 2, "epochs": 1, "seconds_per_epoch": 1.0,
          "curves": [{"epoch": 1, "valid_accuracy": 1 - error, "train_accuracy": 1 - error / 2,
                      "train_loss": 10 * error}]}


def fake_variant(name: str, errors: Sequence[float | None], **fields: Any) -> dict[str, Any]:
  """A variant record as ``results.json`` holds it, of one :func:`fake_run`
  per seed with the test errors ``errors``, unless ``fields`` say otherwise."""
  runs = [fake_run(k, e) for k, e in enumerate(errors)]
  record = {"name": name, "label": name, "family": "", "coords": {}, "overrides": {},
            "model": "mlp_300", "model_kwargs": {}, "epochs": 1, "params": 1000,
            "connections": 1000, "runs": runs, "x": {}}
  record.update(fields)
  for key in ("test_error", "valid_error", "seconds_per_epoch"):
    record[key] = stats.spread(stats.per_seed(record, key))
  return record


def fake_results(variants: list[dict[str, Any]], reference: str | None = None,
                 analysis: dict[str, Any] | None = None) -> dict[str, Any]:
  """A ``results.json`` of ``variants`` (:func:`fake_variant`), compared with
  ``reference`` (None: the lowest mean test error), as the runner writes it."""
  reference = reference or min(variants, key=lambda v: v["test_error"]["mean"])["name"]
  seeds = list(range(max(len(v["runs"]) for v in variants)))
  config = {"optimizer": "adam", "learning_rate": 0.002, "schedule": "cosine",
            "weight_decay": 0.0, "batch_size": 128, "augment": "none", "preprocess": "scale"}
  return {
      "experiment": "fake", "title": "A fake experiment", "question": "Q?",
      "motivation": "M.", "method": "The method.",
      "settings": {"seeds": seeds, "epochs": 1, "quick": False, "train_examples": 100,
                   "valid_examples": 10, "test_examples": 10, "platform": "cpu",
                   "config": config},
      "variants": variants, "reference": reference, "reference_reason": "the declared reference",
      "test": {"name": stats.TEST_NAME, "alpha": stats.ALPHA},
      "comparisons": stats.compare({v["name"]: stats.per_seed(v) for v in variants}, reference),
      "trends": [], "analysis": analysis or {}, "figures": [], "wall_seconds": 60.0,
  }


@pytest.fixture
def make_variant() -> Callable[..., dict[str, Any]]:
  """:func:`fake_variant`."""
  return fake_variant


@pytest.fixture
def make_results() -> Callable[..., dict[str, Any]]:
  """:func:`fake_results`."""
  return fake_results
