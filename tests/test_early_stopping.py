"""Early stopping: the per-seed bookkeeping, and real runs forced to overfit."""

from __future__ import annotations

import os

import jax.numpy as jnp
import numpy as np
import pytest

from convnets.configs import configure
from convnets.configs.default import get_config
from convnets.experiment.trained import load_run, logits
from convnets.train import train_and_evaluate
from convnets.train.early_stopping import EarlyStopping, keep_best
from convnets.train.loop import train_seeds
from convnets.train.workdir import read_jsonl

PATIENCE = 3
SEEDS = (0, 2)  # they stop at different epochs (22 and 24)


def test_each_seed_stops_after_patience_epochs_without_improvement():
  stopping = EarlyStopping.start(2, patience=2)
  errors = [(0.5, 0.5), (0.4, 0.45), (0.45, 0.44), (0.41, 0.43), (0.40, 0.43), (0.3, 0.43)]
  improved = [stopping.update(epoch, e) for epoch, e in enumerate(errors, start=1)]
  # Seed 0: best 0.4 at epoch 2; 0.45 and 0.41 are no better, so it stops at
  # epoch 4 and ignores what follows (0.40 equals its best, 0.3 comes too late).
  # Seed 1: improves until epoch 4, then two epochs without: stops at epoch 6.
  assert stopping.best_epoch.tolist() == [2, 4]
  assert stopping.stopped_epoch.tolist() == [4, 6]
  assert stopping.best_error.tolist() == [0.4, 0.43]
  assert [i.tolist() for i in improved] == [[True, True], [True, True], [False, True],
                                            [False, True], [False, False], [False, False]]
  assert stopping.done


def test_keep_best_picks_per_seed():
  current = {"w": jnp.array([[1.0, 1.0], [2.0, 2.0]]), "b": jnp.array([1.0, 2.0])}
  best = {"w": jnp.zeros((2, 2)), "b": jnp.zeros(2)}
  kept = keep_best(jnp.array([False, True]), current, best)
  np.testing.assert_array_equal(kept["w"], [[0.0, 0.0], [2.0, 2.0]])
  np.testing.assert_array_equal(kept["b"], [0.0, 2.0])
  single = keep_best(jnp.asarray(True), {"w": jnp.ones(3)}, {"w": jnp.zeros(3)})
  np.testing.assert_array_equal(single["w"], np.ones(3))


def overfit_config(**overrides):
  """200 training digits, no augmentation, a constant learning rate: the
  validation error stops improving within a few dozen epochs."""
  return configure(get_config(), {
      "model.name": "mlp_300", "data.train_subset": 200, "batch_size": 50, "epochs": 60,
      "augment.name": "none", "optimizer.schedule": "constant",
      "optimizer.learning_rate": 1e-3, "early_stopping_patience": PATIENCE, **overrides})


@pytest.fixture(scope="module")
def runs(mnist, tmp_path_factory):
  """``SEEDS`` alone and in lockstep, with early stopping."""
  root = tmp_path_factory.mktemp("early_stopping")
  quiet = lambda line: None
  alone = [train_and_evaluate(overfit_config(seed=s), str(root / f"alone{s}"), data=mnist,
                              log=quiet) for s in SEEDS]
  together = train_seeds(overfit_config(), list(SEEDS), [str(root / f"t{s}") for s in SEEDS],
                         data=mnist, log=quiet)
  return root, alone, together


def test_overfit_run_stops_patience_epochs_after_its_best(runs):
  root, alone, _ = runs
  for seed, summary in zip(SEEDS, alone):
    history = read_jsonl(str(root / f"alone{seed}" / "metrics.jsonl"))
    errors = [1 - h["valid_accuracy"] for h in history]
    assert summary["stopped_early"]
    assert summary["stopped_epoch"] - summary["best_epoch"] == PATIENCE
    assert summary["epochs"] == summary["stopped_epoch"] == len(history) < 60
    # The best epoch is the first with the lowest validation error, and the
    # summary reports that epoch's validation error, not the last one's.
    assert summary["best_epoch"] == int(np.argmin(errors)) + 1
    assert summary["valid_error"] == pytest.approx(min(errors))


def test_the_best_epochs_variables_are_restored_saved_and_tested(runs, mnist, tmp_path):
  root, alone, _ = runs
  summary = alone[0]
  run = load_run(str(root / "alone0"))
  predictions = logits(run.model, run.variables, mnist.test.images, run.preprocess).argmax(-1)
  assert summary["test_accuracy"] == pytest.approx(
      float((predictions == mnist.test.labels).mean()), abs=1e-6)
  # With a constant learning rate, training is the same whatever the epoch
  # limit: a fixed-length run of best_epoch epochs reaches the same variables.
  fixed = train_and_evaluate(overfit_config(epochs=summary["best_epoch"],
                                            early_stopping_patience=0),
                             str(tmp_path / "fixed"), data=mnist, log=lambda line: None)
  assert fixed["test_accuracy"] == pytest.approx(summary["test_accuracy"], abs=2e-4)
  assert "best_epoch" not in fixed


def test_seeds_in_lockstep_stop_as_they_would_alone(runs):
  root, alone, together = runs
  # The seeds stop at different epochs; the first keeps training in lockstep
  # after its stop, which must not change its result.
  assert alone[0]["stopped_epoch"] != alone[1]["stopped_epoch"]
  for seed, one, both in zip(SEEDS, alone, together):
    for key in ("best_epoch", "stopped_epoch", "epochs"):
      assert both[key] == one[key], (seed, key)
    assert both["test_accuracy"] == pytest.approx(one["test_accuracy"], abs=2e-3)
    assert len(read_jsonl(str(root / f"t{seed}" / "metrics.jsonl"))) == one["stopped_epoch"]
    assert os.path.getsize(root / f"t{seed}" / "variables.msgpack") > 0
