"""Training: the pure step, the epoch loop on real MNIST, outputs, determinism."""

from __future__ import annotations

import json
import os
import re

import jax
import jax.numpy as jnp
import optax
import pytest

from convnets import models
from convnets.configs import configure
from convnets.configs.default import get_config
from convnets.train import ConfigError, init_state, make_train_step, train_and_evaluate
from convnets.train.workdir import WorkdirError, read_jsonl


def quick_config(**overrides):
  """The default config on 2,000 digits, with dotted ``overrides`` (as keywords,
  dots spelt ``__``: ``optimizer__name="sgd"``)."""
  return configure(get_config(), {
      "data.train_subset": 2000, "epochs": 2, "batch_size": 50,
      **{k.replace("__", "."): v for k, v in overrides.items()}})


def test_train_step_is_pure_and_descends():
  model = models.create("convnet")
  tx = optax.adam(1e-2)
  state = init_state(model, tx, jax.random.key(0), (28, 28, 1))
  batch = {"images": jax.random.uniform(jax.random.key(1), (16, 28, 28, 1)),
           "labels": jnp.arange(16) % 10}
  step = jax.jit(make_train_step(model, tx))
  first, metrics_a = step(state, batch)
  again, metrics_b = step(state, batch)
  assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), first, again))
  assert float(metrics_a["loss"]) == float(metrics_b["loss"])
  assert int(first.step) == 1 and float(metrics_a["count"]) == 16
  state, losses = first, [float(metrics_a["loss"])]
  for _ in range(10):
    state, metrics = step(state, batch)
    losses.append(float(metrics["loss"]))
  assert losses[-1] < 0.5 * losses[0]


def test_short_real_training_learns(mnist, tmp_path):
  summary = train_and_evaluate(quick_config(), str(tmp_path / "run"), data=mnist,
                               log=lambda s: None)
  history = read_jsonl(str(tmp_path / "run" / "metrics.jsonl"))
  assert [h["epoch"] for h in history] == [1, 2]
  assert history[1]["train_loss"] < history[0]["train_loss"]
  # Chance is 10%; 80 steps on 2,000 digits reach far above it.
  assert summary["test_accuracy"] > 0.8 and summary["valid_accuracy"] > 0.8
  assert summary["params"] == 289_630 and summary["train_examples"] == 2000
  for name in ("config.json", "metrics.jsonl", "summary.json", "curves.png", "variables.msgpack",
               "preprocessor.npz"):
    assert os.path.getsize(tmp_path / "run" / name) > 0
  with open(tmp_path / "run" / "summary.json") as f:
    on_disk = json.load(f)
  for key in ("model", "params", "epochs", "seed", "test_accuracy", "test_error",
              "valid_accuracy", "train_seconds", "examples_per_second", "platform"):
    assert on_disk[key] == summary[key]
  assert on_disk["test_error"] == pytest.approx(1 - on_disk["test_accuracy"])


def results(summary):
  """A summary without its measurements of the machine: times, speed and the
  process's peak memory (which an earlier run in the same process may have set)."""
  return {k: v for k, v in summary.items()
          if "seconds" not in k and k not in ("examples_per_second", "peak_memory_mb")}


def test_same_seed_same_numbers_other_seed_other_numbers(mnist, tmp_path):
  run = lambda name, seed: results(train_and_evaluate(
      quick_config(model__name="mlp_300", data__train_subset=1000, epochs=1, seed=seed),
      str(tmp_path / name), data=mnist, log=lambda s: None))
  first, second, other = run("a", 0), run("b", 0), run("c", 1)
  assert first == second
  assert other["test_accuracy"] != first["test_accuracy"]


def test_scan_loop_matches_python_loop(mnist, tmp_path):
  runs = {loop: train_and_evaluate(quick_config(model__name="mlp_300", data__train_subset=500, epochs=1,
                                                loop=loop),
                                   str(tmp_path / loop), data=mnist, log=lambda s: None)
          for loop in ("python", "scan")}
  assert runs["scan"]["test_accuracy"] == pytest.approx(runs["python"]["test_accuracy"],
                                                        abs=2e-3)
  hist = {loop: read_jsonl(str(tmp_path / loop / "metrics.jsonl"))[0] for loop in runs}
  assert hist["scan"]["train_loss"] == pytest.approx(hist["python"]["train_loss"], rel=1e-4)


@pytest.mark.parametrize("field, value, message", [
    ("optimizer.learning_rate", 0.0, "config.optimizer.learning_rate=0.0: must be > 0"),
    ("optimizer.learning_rate", -1.0, "config.optimizer.learning_rate=-1.0: must be > 0"),
    ("epochs", 0, "config.epochs=0: must be an integer >= 1"),
    ("optimizer.name", "adagrad", "config.optimizer.name='adagrad': must be one of"),
    ("optimizer.schedule", "linear", "config.optimizer.schedule='linear': must be one of"),
    ("batch_size", 0, "config.batch_size=0: must be an integer >= 1"),
    ("loss.label_smoothing", 1.0, "config.loss.label_smoothing=1.0: must be in [0, 1)"),
    ("augment.name", "rotate", "config.augment.name='rotate': must be one of"),
    ("data.preprocess", "blur", "config.data.preprocess='blur': must be one of"),
])
def test_bad_config_is_refused_before_anything_is_written(field, value, message, tmp_path):
  config = configure(quick_config(), {field: value})
  with pytest.raises(ConfigError, match=re.escape(message)):
    train_and_evaluate(config, str(tmp_path / "run"), data=None)
  assert not (tmp_path / "run").exists()


def test_existing_results_are_never_overwritten(mnist, tmp_path):
  workdir = tmp_path / "run"
  workdir.mkdir()
  (workdir / "summary.json").write_text('{"test_accuracy": 0.5}')
  with pytest.raises(WorkdirError, match="already holds results.*--overwrite"):
    train_and_evaluate(quick_config(model__name="mlp_300", data__train_subset=100, epochs=1),
                       str(workdir), data=mnist)
  assert (workdir / "summary.json").read_text() == '{"test_accuracy": 0.5}'


def test_diverging_run_stops_and_says_why(mnist, tmp_path):
  lines = []
  summary = train_and_evaluate(
      quick_config(model__name="mlp_300", data__train_subset=1000, epochs=3,
                   optimizer__name="sgd", optimizer__learning_rate=1e6,
                   optimizer__schedule="constant"),
      str(tmp_path / "run"), data=mnist, log=lines.append)
  assert summary["epochs"] < 3
  assert any("not finite" in line for line in lines)
