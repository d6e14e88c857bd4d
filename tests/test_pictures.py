"""The figure style and the pictures of a run: confusion counts against
scikit-learn, the misclassified gallery, facets, error bars clipped at 0, a log
axis labelled once, ``--inspect`` through the real command line, and the
committed figures matching what their results.json gives."""

from __future__ import annotations

import json
import os

import jax
import numpy as np
import pytest
import scipy.signal
from sklearn.metrics import confusion_matrix

from convnets import models, pictures, style
from convnets.configs.default import get_config
from convnets.experiment import plots
from convnets.experiment.trained import load_run
from convnets.train import inspection
from convnets.train.resume import run_config
from convnets.train.workdir import save_variables, write_json
from tests import cli_runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def figures(monkeypatch):
  """The figures drawn, kept open for inspection instead of being saved."""
  kept = []
  monkeypatch.setattr(style, "save", lambda fig, path: kept.append(fig))
  return kept


def test_confusion_counts_match_scikit_learn():
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 10, 2_000)
  predictions = np.where(rng.random(2_000) < 0.7, labels, rng.integers(0, 10, 2_000))
  counts = pictures.confusion_counts(labels=labels, predictions=predictions)
  np.testing.assert_array_equal(counts, confusion_matrix(labels, predictions, labels=range(10)))
  # Rows are the true digits: a hand case, two 3s read as 8 and one 8 as 8.
  hand = pictures.confusion_counts(labels=np.array([3, 3, 8]), predictions=np.array([8, 8, 8]))
  assert hand[3, 8] == 2 and hand[8, 8] == 1 and hand.sum() == 3


def test_the_gallery_shows_exactly_the_misclassified_digits(tmp_path, figures):
  labels = np.array([1, 2, 3, 4, 5, 6])
  predictions = np.array([1, 0, 3, 9, 5, 2])
  images = np.zeros((6, 28, 28), np.uint8)
  chosen = pictures.draw_misclassified(images=images, labels=labels, predictions=predictions,
                                       path=str(tmp_path / "m.png"), title="t")
  np.testing.assert_array_equal(chosen, [1, 3, 5])
  captions = [t.get_text() for t in figures[0].axes[0].texts]
  assert captions == ["2 → 0", "4 → 9", "6 → 2"]
  limited = pictures.draw_misclassified(images=images, labels=labels, predictions=predictions,
                                        path=str(tmp_path / "m.png"), title="t", limit=2)
  np.testing.assert_array_equal(limited, [1, 3])


@pytest.mark.parametrize("count", [0, 1, 7, 8, 9, 14, 26, 40])
def test_facets_hold_at_most_max_series_in_order(count):
  items = list(range(count))
  groups = style.facets(items)
  assert all(len(g) <= style.MAX_SERIES for g in groups)
  assert [i for g in groups for i in g] == items
  assert len(groups) == max(1, -(-count // style.MAX_SERIES))
  assert max(map(len, groups)) - min(map(len, groups)) <= 1


def _variants(families: dict[str, int], epochs: int = 4) -> list[dict]:
  rng = np.random.default_rng(1)
  out = []
  for family, count in families.items():
    for i in range(count):
      errors = rng.uniform(0.001, 0.05, 3)
      runs = [{"test_error": float(e), "curves": [
          {"valid_accuracy": 1 - e * (epochs - k), "train_loss": 0.5 / (k + 1)}
          for k in range(epochs)]} for e in errors]
      out.append({"name": f"{family}{i}", "label": f"{family} {i}", "family": family,
                  "runs": runs, "x": {"x": float(i + 1)},
                  "test_error": {"mean": float(errors.mean()), "std": float(errors.std(ddof=1))}})
  return out


def test_learning_curves_put_at_most_max_series_on_an_axes(tmp_path, figures):
  variants = _variants({"paper": 13, "modern": 13})
  plots.learning_curves(variants, str(tmp_path / "c.png"), "t")
  axes = figures[0].axes
  assert all(len(ax.get_lines()) <= style.MAX_SERIES for ax in axes)
  # Every variant is drawn, each family's in its own facets.
  assert sum(len(ax.get_lines()) for ax in axes) == 2 * len(variants)
  assert {ax.get_title().split(" (")[0] for ax in axes} == {"paper", "modern"}


def _lower_ends(fig) -> list[float]:
  """The lowest point of every error bar in ``fig`` (the bars' line segments)."""
  ends = []
  for ax in fig.axes:
    for collection in ax.collections:
      for segment in collection.get_segments():
        ends.append(float(np.min(segment[:, 0 if ax.get_xlabel().startswith("test") else 1])))
  return ends


def test_error_bars_stop_at_zero(tmp_path, figures):
  # A mean of 0.5% with a std of 2%: an unclipped bar would reach -1.5%.
  variants = _variants({"a": 3, "b": 2})
  for v in variants:
    v["test_error"] = {"mean": 0.005, "std": 0.02}
  plots.test_errors(variants, str(tmp_path / "e.png"), "t")
  plots.trend(variants, "x", "x", False, str(tmp_path / "t.png"), "t")
  for fig in figures:
    ends = _lower_ends(fig)
    assert ends and min(ends) == pytest.approx(0.0, abs=1e-12)
  mean, std = np.array([0.5, 3.0, 0.0]), np.array([2.0, 1.0, 1.0])
  low, high = style.clipped_error(mean, std)
  np.testing.assert_allclose(mean - low, [0.0, 2.0, 0.0])
  np.testing.assert_allclose(high, std)


def test_a_log_axis_is_labelled_once(tmp_path, figures):
  variants = _variants({"a": 3})
  plots.trend(variants, "x", "learning rate (log scale)", True, str(tmp_path / "t.png"), "t")
  assert figures[0].axes[0].get_xlabel() == "learning rate (log scale)"
  assert figures[0].axes[0].get_xscale() == "log"


def test_kernels_of_every_set_share_one_symmetric_scale(tmp_path, figures):
  identity = np.zeros((5, 5, 1))
  identity[2, 2, 0] = 1.0
  learned = np.full((5, 5, 4), -0.25)
  pictures.draw_kernels(sets=[("learned", learned), ("identity", identity)],
                        path=str(tmp_path / "k.png"), title="t")
  limits = {im.get_clim() for ax in figures[0].axes for im in ax.get_images()}
  assert limits == {(-1.0, 1.0)}


def test_committed_figures_are_what_their_results_give(tmp_path):
  """One experiment's committed figures, redrawn from its results.json, are
  the same bytes (``python -m experiments.publish --check`` checks them all)."""
  folder = os.path.join(ROOT, "results", "pooling")
  with open(os.path.join(folder, "results.json")) as f:
    results = json.load(f)
  for figure in plots.standard(results, str(tmp_path)):
    with open(tmp_path / figure.file, "rb") as a, open(os.path.join(folder, figure.file),
                                                      "rb") as b:
      assert a.read() == b.read(), f"results/pooling/{figure.file} is stale: run python -m " \
          "experiments.publish"


@pytest.fixture
def convnet_run(tmp_path) -> str:
  """A finished run's folder holding the lecture ConvNet at its initial
  weights instead of the tiny run's MLP: a conv run without training one."""
  workdir = cli_runs.copy(cli_runs.finished_run(), str(tmp_path / "convnet"))
  config = get_config()
  model = models.build(config.model)
  variables = model.init(jax.random.key(0), np.zeros((1, 28, 28, 1), np.float32))
  write_json(os.path.join(workdir, "config.json"), run_config(config, 0))
  save_variables(workdir, jax.device_get(variables))
  for name in inspection.PICTURES:
    if os.path.exists(os.path.join(workdir, name)):
      os.remove(os.path.join(workdir, name))
  return workdir


def test_a_trained_run_gets_its_pictures_and_inspect_redraws_them(tmp_path):
  """The tiny MLP run has its pictures from training, but no kernels (no
  conv layer); ``--inspect`` draws the same bytes again."""
  workdir = cli_runs.copy(cli_runs.finished_run(), str(tmp_path / "mlp"))
  assert not {"kernels.png", "feature_maps.png"} & set(os.listdir(workdir))
  drawn = {}
  for name in ("confusion.png", "misclassified.png"):
    with open(os.path.join(workdir, name), "rb") as f:
      drawn[name] = f.read()
    os.remove(os.path.join(workdir, name))
  result = cli_runs.succeeded(cli_runs.run_cli(f"--inspect={workdir}"))
  assert f"wrote confusion.png, misclassified.png in {workdir}" in result.stdout
  for name, data in drawn.items():
    with open(os.path.join(workdir, name), "rb") as f:
      assert f.read() == data, name


def test_inspect_draws_a_convnets_kernels_and_feature_maps(convnet_run, mnist):
  result = cli_runs.succeeded(cli_runs.run_cli(f"--inspect={convnet_run}"))
  assert "wrote confusion.png, misclassified.png, kernels.png, feature_maps.png" in result.stdout
  for name in inspection.PICTURES:
    assert os.path.getsize(os.path.join(convnet_run, name)) > 0
  # The feature maps are the first layer's cross-correlation plus its bias (SciPy).
  run = load_run(convnet_run)
  image = mnist.test.images[0]
  x = np.asarray(run.preprocess(image[None]))[0, :, :, 0]
  bias = np.asarray(run.variables["params"]["conv1"]["conv"]["bias"]) + 0.1
  run.variables["params"]["conv1"]["conv"]["bias"] = bias  # non-zero, so it is checked too
  kernels, maps = inspection.first_layer(run, image)
  assert kernels.shape == (5, 5, 20) and maps.shape == (24, 24, 20)
  for j in (0, 7, 19):
    expected = scipy.signal.correlate2d(x, kernels[:, :, j], mode="valid") + bias[j]
    np.testing.assert_allclose(maps[:, :, j], expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", ["missing", "not a run"])
def test_inspect_of_a_bad_path_is_one_error_line(tmp_path, case):
  path = tmp_path / "nothing" if case == "missing" else tmp_path
  line = cli_runs.error_line(cli_runs.run_cli(f"--inspect={path}"))
  assert line.startswith(f"error: --inspect={path}: ")
  assert "finished training run" in line
  if case == "not a run":
    assert "summary.json" in line and "variables.msgpack" in line
