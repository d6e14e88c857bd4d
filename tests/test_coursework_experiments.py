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

import importlib
import json
import os

import numpy as np
import pytest

from convnets import models
from convnets.configs import best
from convnets.configs.default import get_config
from convnets.data import MNIST
from convnets.experiment import Settings
from convnets.experiment.runner import configure, run_experiment
from convnets.train import check_config, train_and_evaluate
from experiments import NAMES, get

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
HEADINGS = {
    "early_stopping": "### Epochs used",
    "regularisation": "### What the penalties do to the weights",
    "transfer_functions": "### Transfer function against network",
    "preprocessing": "### Preprocessing against network",
    "augmentation": "### Training error against validation error",
    "skip_connections": "### Training loss against depth",
    "best_search": "### Candidates by validation error",
}


@pytest.fixture(scope="module")
def quick(mnist, tmp_path_factory) -> str:
  """The folder holding one quick run of each coursework experiment."""
  root = tmp_path_factory.mktemp("coursework")
  for name, variants in QUICK_VARIANTS.items():
    run_experiment(get(name), str(root / name), config=get_config(), data=mnist,
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
      models.create(config.model, **config.model_kwargs)


@pytest.mark.parametrize("name", list(QUICK_VARIANTS))
def test_quick_run_writes_results_analysis_and_figures(quick, name):
  results = load(quick, name)
  assert [v["name"] for v in results["variants"]] == QUICK_VARIANTS[name]
  assert results["settings"]["quick"] and results["settings"]["epochs"] == 1
  for variant in results["variants"]:
    run, = variant["runs"]
    assert 0 <= run["test_error"] <= 1 and [c["epoch"] for c in run["curves"]] == [1]
  with open(os.path.join(quick, name, "results.md")) as f:
    text = f.read()
  assert "## Results" in text and "## Discussion" in text
  if name in HEADINGS:
    assert HEADINGS[name] in text
  files = {f["file"] for f in results["figures"]}
  assert {"curves.png", "test_error.png"} | FIGURES[name] == files
  for file in files:
    assert f"]({file})" in text
    assert_png(os.path.join(quick, name, file))


def test_shared_overrides_reach_every_run(quick):
  config = load(quick, "skip_connections")["settings"]["config"]
  assert config["model"] == "resnet" and config["augment"] == "none"
  runs = [v["runs"][0] for v in load(quick, "skip_connections")["variants"]]
  assert [r["model_kwargs"]["residual"] for r in runs] == [False, True]
  assert load(quick, "batch_norm")["settings"]["config"]["optimizer"] == "momentum"
  bn, = load(quick, "batch_norm")["variants"]
  assert bn["model_kwargs"]["batch_norm"] and bn["runs"][0]["curves"][0]["learning_rate"] > 0


def test_early_stopping_runs_record_their_stopping_point(quick):
  fixed, stopped = load(quick, "early_stopping")["variants"]
  assert "best_epoch" not in fixed["runs"][0]
  run = stopped["runs"][0]
  assert run["early_stopping_patience"] == 3 and run["best_epoch"] == run["stopped_epoch"] == 1


def test_regularisation_reports_weight_statistics(quick):
  weights = load(quick, "regularisation")["analysis"]["weights"]
  assert set(weights) == set(QUICK_VARIANTS["regularisation"])
  for stats in weights.values():
    assert 0 <= stats["near_zero"]["mean"] <= 1 and stats["rms"]["mean"] > 0


def test_skip_connections_reports_training_loss(quick):
  losses = load(quick, "skip_connections")["analysis"]["final_train_loss"]
  assert set(losses) == {"plain4", "residual4"}
  assert all(np.isfinite(loss["mean"]) for loss in losses.values())


def test_best_search_candidates_are_the_best_config_with_their_changes(quick):
  shared = load(quick, "best_search")["settings"]["config"]
  # Through JSON, so tuples compare equal to the lists they were saved as.
  expected = configure(get_config(), {**best.SETTINGS, "epochs": 1}).to_dict()
  assert shared == json.loads(json.dumps(expected))
  # --quick shortens the one-epoch warm-up to fit its one epoch.
  with open(os.path.join(quick, "best_search", "runs", "label_smoothing", "seed0",
                         "config.json")) as f:
    run_config = json.load(f)
  assert run_config["label_smoothing"] == 0.1 and run_config["warmup_epochs"] == 0.5


def search_record(name: str, valid: list[float], test: list[float]) -> dict:
  spread = lambda xs: {"mean": float(np.mean(xs)), "std": float(np.std(xs, ddof=1))}
  return {"name": name, "label": name, "valid_error": spread(valid),
          "test_error": spread(test), "connections": 1, "seconds_per_epoch": spread([1.0, 1.0]),
          "runs": [{"test_error": t, "valid_error": v} for v, t in zip(valid, test)]}


def test_best_search_chooses_by_validation_not_test_error():
  """Hand-made records: the candidate with the lowest validation error is
  chosen even though another has the lowest test error, and the target is
  judged on the chosen one's mean test error."""
  search = importlib.import_module("experiments.best_search")
  results = {"reference": "chosen", "variants": [
      search_record("chosen", [0.0042, 0.0040, 0.0041], [0.0041, 0.0043, 0.0040]),
      search_record("low_valid", [0.0036, 0.0035, 0.0037], [0.0039, 0.0038, 0.0040]),
      search_record("low_test", [0.0045, 0.0044, 0.0046], [0.0030, 0.0031, 0.0032])],
      "comparisons": {"low_valid": {"p": 0.05, "significant": False, "difference": -0.0002},
                      "low_test": {"p": 0.001, "significant": True, "difference": -0.001}}}
  text = "\n".join(search.findings(results))
  assert "Chosen by validation error: **low_valid**" in text
  assert "0.39 ± 0.01% over 3 seeds: below the 0.4% target" in text
  assert "per-seed standard deviation: 0.01 points" in text
  ranked = search.ranking(results)[2:]
  assert [row.split(" | ")[1] for row in ranked] == ["low_valid", "chosen", "low_test"]
  results["variants"][1] = search_record("low_valid", [0.0036] * 3, [0.0041, 0.0040, 0.0042])
  assert "not below the 0.4% target" in "\n".join(search.findings(results))


def test_best_config_trains_on_a_tiny_subset(mnist, tmp_path):
  """The best configuration is valid and learns: three short epochs on 2,000
  digits (the first one warming up) lift it well above chance (95.4% measured)."""
  config = best.get_config()
  config.update(dict(epochs=3, train_subset=2000))
  data = MNIST(mnist.train, mnist.valid.take(1000), mnist.test.take(1000))
  summary = train_and_evaluate(config, str(tmp_path / "best"), data=data, log=lambda line: None)
  assert summary["model"] == "convnet" and summary["params"] == 858_090
  assert summary["test_accuracy"] > 0.85


def test_skip_connections_findings_compare_the_deepest_with_the_best_shallower_net():
  """He et al.'s degradation: the deepest plain net trains worse than the
  14-layer one (not the 6-layer one, which trains worse still); the residual
  family keeps improving. Hand-made records, so the verdicts are known."""
  from experiments.skip_connections import findings

  def variant(family, depth, losses, errors):
    runs = [{"curves": [{"train_loss": loss}], "test_error": error}
            for loss, error in zip(losses, errors)]
    return {"family": family, "coords": {"depth": depth}, "runs": runs, "epochs": 5}

  variants = [
      variant("plain", 4, [0.60, 0.70, 0.65], [0.10, 0.11, 0.12]),
      variant("plain", 12, [0.20, 0.21, 0.22], [0.040, 0.045, 0.043]),
      variant("plain", 24, [0.37, 0.38, 0.39], [0.090, 0.100, 0.095]),
      variant("residual", 4, [0.60, 0.65, 0.70], [0.10, 0.11, 0.12]),
      variant("residual", 12, [0.15, 0.16, 0.155], [0.037, 0.038, 0.042]),
      variant("residual", 24, [0.080, 0.079, 0.081], [0.031, 0.029, 0.033]),
  ]
  lines = findings(variants)
  plain = next(line for line in lines if line.startswith("- plain:"))
  residual = next(line for line in lines if line.startswith("- residual:"))
  assert "26-layer net ends with a training loss +0.1700 against the 14-layer one" in plain
  assert plain.endswith(": degradation.")
  assert "-0.0750 against the 14-layer one" in residual
  assert residual.endswith(": no degradation.")
  assert any(line.startswith("- 26 layers: residual − plain test error -6.40 points")
             for line in lines)
