"""The coursework's research-topic experiments, run as ``--quick`` smoke runs,
and the best configuration on a tiny subset.

Like ``tests/test_experiments.py``: each experiment trains one or two of its
variants (chosen to exercise every output: both networks of the transfer
functions, fixed and early-stopped runs, plain and residual nets, a penalty,
whitening, distortions, batch normalisation at a high learning rate) for one
epoch on 2,000 digits, and the tests read its ``results.json``,
``results.md`` and figures. The runs share one loaded MNIST, in this
process, to stay within about two minutes.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from ml_collections import ConfigDict

from convnets import models
from convnets.configs import best
from convnets.configs.default import get_config
from convnets.data import MNIST
from convnets.experiment import Settings
from convnets.configs import configure
from convnets.experiment.runner import run_experiment
from convnets.experiment.values import Grid
from convnets.train import check_config, train_and_evaluate
from convnets.train.workdir import load_variables
from experiments import NAMES, get
from experiments.regularisation import weight_statistics

QUICK_VARIANTS = {
    "early_stopping": ["fixed", "patience3"],
    "regularisation": ["none", "l1_0.0001"],
    "transfer_functions": ["mlp_sigmoid", "convnet_gelu"],
    "preprocessing": ["mlp_zca"],
    "augmentation": ["affine_elastic"],
    "batch_norm": ["deep_bn_lr0.5"],
    "skip_connections": ["plain4", "residual4"],
    "best_search": ["chosen", "label_smoothing"],
}
FIGURES = {
    "early_stopping": {"stopping.png"},
    "regularisation": {"strength.png", "histograms.png"},
    "transfer_functions": {"curves_mlp.png", "curves_convnet.png"},
    "preprocessing": {"curves_mlp.png", "inputs.png"},
    "augmentation": {"augmented.png"},
    "batch_norm": {"test_error_vs_learning_rate.png"},
    "skip_connections": {"test_error_vs_depth.png", "train_loss_vs_depth.png"},
    "best_search": {"test_error_vs_seconds_per_epoch.png"},
}


def no_pictures() -> ConfigDict:
  """The default config without per-run pictures (test_pictures.py tests those)."""
  config = get_config()
  config.pictures = False
  return config


@pytest.fixture(scope="module")
def quick(mnist, tmp_path_factory) -> str:
  """The folder holding one quick run of each coursework experiment."""
  root = tmp_path_factory.mktemp("coursework")
  for name, variants in QUICK_VARIANTS.items():
    run_experiment(get(name), str(root / name), config=no_pictures(), data=mnist,
                   settings=Settings(seeds=(0,), quick=True, variants=tuple(variants)),
                   log=lambda line: None)
  return str(root)


def load(root: str, name: str) -> dict:
  with open(os.path.join(root, name, "results.json")) as f:
    return json.load(f)


def assert_png(path: str) -> None:
  with open(path, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n", path
  assert os.path.getsize(path) > 5000, path


def test_registered_and_every_variant_is_a_valid_config():
  base = get_config()
  for name in QUICK_VARIANTS:
    assert name in NAMES and get(name).name == name
    experiment = get(name)
    shared = configure(base, dict(experiment.overrides))
    for variant in experiment.variants:
      config = configure(shared, dict(variant.overrides))
      check_config(config)
      models.build(config.model)


@pytest.mark.parametrize("name", list(QUICK_VARIANTS))
def test_quick_run_writes_results_analysis_and_figures(quick, name):
  results = load(quick, name)
  assert [v["name"] for v in results["variants"]] == QUICK_VARIANTS[name]
  assert results["settings"]["quick"] and results["settings"]["epochs"] == 1
  for variant in results["variants"]:
    run, = variant["runs"]
    assert run["test_error"] == pytest.approx(1 - run["test_accuracy"])
    assert variant["test_error"]["mean"] == run["test_error"]
    assert [c["epoch"] for c in run["curves"]] == [1]
  with open(os.path.join(quick, name, "results.md")) as f:
    text = f.read()
  assert "## Results" in text and "## Discussion" in text
  # Every table of the experiment's own findings is in its report (batch_norm's
  # one variant has no counterpart to be compared with, so no table).
  grids = [f for f in get(name).summarise(results) if isinstance(f, Grid)]
  assert len(grids) >= (name != "batch_norm")
  assert all(f"### {grid.title}" in text for grid in grids)
  files = {f["file"] for f in results["figures"]}
  assert {"curves.png", "test_error.png"} | FIGURES[name] == files
  for file in files:
    assert f"]({file})" in text
    assert_png(os.path.join(quick, name, file))


def test_shared_overrides_reach_every_run(quick):
  config = load(quick, "skip_connections")["settings"]["config"]
  assert config["model"]["name"] == "resnet" and config["augment"]["name"] == "none"
  runs = [v["runs"][0] for v in load(quick, "skip_connections")["variants"]]
  assert [r["model_kwargs"]["residual"] for r in runs] == [False, True]
  assert load(quick, "batch_norm")["settings"]["config"]["optimizer"]["name"] == "momentum"
  bn, = load(quick, "batch_norm")["variants"]
  assert bn["model_kwargs"]["batch_norm"] and bn["runs"][0]["curves"][0]["learning_rate"] > 0


def test_early_stopping_runs_record_their_stopping_point(quick):
  fixed, stopped = load(quick, "early_stopping")["variants"]
  assert "best_epoch" not in fixed["runs"][0]
  run = stopped["runs"][0]
  assert run["early_stopping_patience"] == 3 and run["best_epoch"] == run["stopped_epoch"] == 1


def test_regularisation_reports_weight_statistics(quick):
  """The stored statistics are those of each run's trained weights."""
  results = load(quick, "regularisation")
  weights = results["analysis"]["weights"]
  assert set(weights) == set(QUICK_VARIANTS["regularisation"])
  for variant in results["variants"]:
    run, = variant["runs"]
    params = load_variables(os.path.join(quick, "regularisation", run["workdir"]))["params"]
    for key, value in weight_statistics(params).items():
      assert weights[variant["name"]][key]["mean"] == pytest.approx(value), key


def test_skip_connections_reports_the_last_epochs_training_loss(quick):
  results = load(quick, "skip_connections")
  grid = next(f for f in get("skip_connections").summarise(results) if f.name == "final_train_loss")
  assert grid.rows == [v["label"] for v in results["variants"]]
  assert grid.cells == [[[v["runs"][0]["curves"][-1]["train_loss"]]] for v in results["variants"]]
  assert all(np.isfinite(cell[0][0]) for cell in grid.cells)


def test_best_search_candidates_are_the_best_config_with_their_changes(quick):
  shared = load(quick, "best_search")["settings"]["config"]
  # Through JSON, so tuples compare equal to the lists they were saved as.
  expected = configure(no_pictures(), {**best.SETTINGS, "epochs": 1}).to_dict()
  assert shared == json.loads(json.dumps(expected))
  # --quick shortens the one-epoch warm-up to fit its one epoch.
  with open(os.path.join(quick, "best_search", "runs", "label_smoothing", "seed0",
                         "config.json")) as f:
    run_config = json.load(f)
  assert run_config["loss"]["label_smoothing"] == 0.1
  assert run_config["optimizer"]["warmup_epochs"] == 0.5


def test_best_config_trains_on_a_tiny_subset(mnist, tmp_path):
  """The best configuration is valid and learns: three short epochs on 2,000
  digits (the first one warming up) lift it well above chance."""
  config = configure(best.get_config(), {"epochs": 3, "data.train_subset": 2000})
  data = MNIST(mnist.train, mnist.valid.take(1000), mnist.test.take(1000))
  summary = train_and_evaluate(config, str(tmp_path / "best"), data=data, log=lambda line: None)
  assert summary["model"] == "convnet" and summary["params"] == 858_090
  assert summary["test_accuracy"] > 0.85
