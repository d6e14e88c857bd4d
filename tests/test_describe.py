"""The layer table reproduces Lecture 7's counts of weights and connections, and
its totals agree with the initialised models."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest

from convnets import cli, models
from convnets.configs.default import get_config
from convnets.describe import count_connections, default_input_shape, describe, layer_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rows_by_layer(name, kwargs=None, input_shape=(28, 28, 1)):
  return {row["layer"]: row for row in layer_table(name, kwargs, input_shape)}


def test_one_5x5_feature_map_on_28x28():
  """24x24 units, 25 shared weights + 1 bias, 14,400 connections + 576 biases."""
  conv = rows_by_layer("convnet", {"conv_features": (1,)})["conv1/conv"]
  assert conv["output_shape"] == (24, 24, 1)
  assert (conv["weights"], conv["biases"]) == (25, 1)
  assert (conv["connections"], conv["bias_connections"]) == (14_400, 576)


def test_forty_5x5_feature_maps():
  """1,000 weights + 40 biases, but 576,000 connections + 23,040 biases."""
  conv = rows_by_layer("convnet", {"conv_features": (40,)})["conv1/conv"]
  assert conv["output_shape"] == (24, 24, 40)
  assert (conv["weights"], conv["biases"]) == (1_000, 40)
  assert (conv["connections"], conv["bias_connections"]) == (576_000, 23_040)


def test_the_simple_convnet():
  """20*(5*5+1) + 20*12*12*100 + 100 + 100*10 + 10 = 289,630 weights."""
  rows = layer_table("convnet")
  assert [row["layer"] for row in rows] == ["input", "conv1/conv", "conv1/pool", "hidden1",
                                            "output"]
  table = {row["layer"]: row for row in rows}
  assert table["input"]["output_shape"] == (28, 28, 1)
  assert table["conv1/pool"]["output_shape"] == (12, 12, 20)
  # Pooling has no weights; each pooled unit reads its 2x2 region once.
  assert (table["conv1/pool"]["weights"], table["conv1/pool"]["biases"]) == (0, 0)
  assert table["conv1/pool"]["connections"] == 12 * 12 * 20 * 4
  assert (table["hidden1"]["weights"], table["hidden1"]["biases"]) == (20 * 12 * 12 * 100, 100)
  assert sum(row["weights"] + row["biases"] for row in rows) == 289_630
  assert count_connections("convnet") == 24 * 24 * 20 * 25 + 12 * 12 * 20 * 4 + 2880 * 100 + 1000


def test_mlp_input_layer():
  """A 100-unit hidden layer on 784 inputs: 784*100 + 100 = 78,500 weights."""
  hidden = rows_by_layer("mlp_300", {"hidden": (100,)})["hidden1"]
  assert hidden["weights"] + hidden["biases"] == 78_500
  assert (hidden["connections"], hidden["bias_connections"]) == (78_400, 100)


def test_a_second_conv_layer_sees_all_twenty_maps():
  """Each unit of a 5x5 layer on 20 maps has 20*5*5 = 500 weights + 1 bias."""
  conv2 = rows_by_layer("convnet", {"conv_features": (20, 7)})["conv2/conv"]
  assert conv2["output_shape"] == (8, 8, 7)
  assert (conv2["weights"], conv2["biases"]) == (7 * 500, 7)
  assert conv2["connections"] == 8 * 8 * 7 * 500


def test_overlapping_pooling_and_a_learnt_p():
  pool = rows_by_layer("convnet", {"pooling": "lp", "learnable_p": True, "pool_window": 3,
                                   "pool_stride": 1})["conv1/pool"]
  assert pool["output_shape"] == (22, 22, 20)
  assert (pool["weights"], pool["biases"]) == (1, 0)
  assert pool["connections"] == 22 * 22 * 20 * 9


@pytest.mark.parametrize("name", models.names())
def test_totals_are_the_initialised_models_parameter_counts(name):
  input_shape = (32, 32, 1)  # LeNet-5's own input; every model takes it
  variables = jax.eval_shape(models.create(name).init, jax.random.key(0),
                             jnp.zeros((1, *input_shape)))
  parameters = sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(variables["params"]))
  rows = layer_table(name, input_shape=input_shape)
  assert sum(row["weights"] + row["biases"] for row in rows) == parameters
  assert count_connections(name, input_shape=input_shape) > 0


def test_describe_prints_an_aligned_markdown_table():
  text = describe("convnet")
  assert text.startswith("convnet: ")
  assert "289,630 parameters" in text and "588,520 connections" in text
  table = [line for line in text.splitlines() if line.startswith("|")]
  assert len(table) == 2 + 5 + 1  # header, rule, 5 rows, total
  assert len({len(line) for line in table}) == 1
  assert all(line.count("|") == 8 for line in table)
  assert table[3].split("|")[1].strip() == "conv1/conv"
  assert [cell.strip() for cell in table[3].split("|")[3:8]] == [
      "24x24x20", "500", "20", "288,000", "11,520"]


def test_describe_takes_the_config_settings():
  config = get_config()
  config.model.activation = "tanh"
  text = describe(config.model.name, models.settings(config.model))
  assert "activation='tanh'" in text and "pooling='max'" in text
  with pytest.raises(ValueError, match="no setting"):
    describe("convnet", {"units": 3})
  with pytest.raises(ValueError, match="unknown model"):
    describe("no_such_model")


def test_run_experiment_describe_prints_and_does_not_train(tmp_path):
  workdir = tmp_path / "run"
  result = subprocess.run(
      [sys.executable, "run_experiment.py", "--describe", "--model=mlp_300",
       f"--workdir={workdir}"], cwd=ROOT, capture_output=True, text=True, timeout=120,
      env={**os.environ, "CONVNETS_NO_TCMALLOC": "1"})
  assert result.returncode == 0, result.stderr
  assert "238,510 parameters" in result.stdout
  assert not workdir.exists()


@pytest.mark.parametrize("name", models.names())
def test_every_registered_model_describes_with_its_defaults(name):
  text = cli.describe(get_config(name))
  params = sum(x.size for x in jax.tree.leaves(jax.eval_shape(
      models.create(name).init, jax.random.key(0),
      jnp.zeros((1, *default_input_shape(name))))["params"]))
  assert text.startswith(f"{name}: ") and f"{params:,} parameters" in text


def test_lenet5_describes_and_trains_from_the_command_line_alone(tmp_path):
  described = subprocess.run(
      [sys.executable, "run_experiment.py", "--model=lenet5", "--describe"], cwd=ROOT,
      capture_output=True, text=True, timeout=120)
  assert described.returncode == 0, described.stderr
  assert "input: 32x32x1" in described.stdout and "60,000 parameters" in described.stdout
  trained = subprocess.run(
      [sys.executable, "run_experiment.py", "--model=lenet5", "--config.epochs=1",
       "--config.data.train_subset=256", f"--workdir={tmp_path / 'run'}"], cwd=ROOT,
      capture_output=True, text=True, timeout=300)
  assert trained.returncode == 0, trained.stderr[-2000:]
  summary = json.loads((tmp_path / "run" / "summary.json").read_text())
  assert summary["model"] == "lenet5" and summary["preprocess"] == "lecun_pad32"
