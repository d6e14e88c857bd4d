"""The LeCun et al. 1998 replication (``experiments/lecun1998.py``), run as a
``--quick`` smoke run of four representative variants (the paper's LeNet-5,
both recipes' 28x28-300-10 MLP and the modern one with distortions), and the
runner's per-variant epochs it relies on.

Like ``tests/test_coursework_experiments.py``, the runs share the loaded
MNIST in this process, to stay within about two minutes.
"""

from __future__ import annotations

import json
import os
import struct

import pytest

from convnets import models
from convnets.configs.default import get_config
from convnets.data import MNIST
from convnets.experiment import Experiment, Settings, Variant, report
from convnets.experiment.runner import configure, run_experiment
from convnets.experiment.stats import spread
from convnets.train import check_config
from experiments import NAMES, get
from experiments.lecun1998 import DIST_EPOCHS, EPOCHS, ROWS, compare, shortfalls

QUICK_VARIANTS = ("paper-mlp_300", "paper-lenet5", "modern-mlp_300", "modern-mlp_300-dist")
# Spot checks against shared/reference/lecun1998-mnist-results.md.
PUBLISHED = {"28x28-300-10": 4.7, "28x28-300-10 [dist]": 3.6, "LeNet-5": 0.95,
             "20x20-300-10 [deslant]": 1.6, "LeNet-1 [16x16]": 1.7}
TABLE_HEAD = ("| row | published (%) | paper recipe (%) | paper − published (points) | "
              "modern recipe (%) | modern − published (points) |")


@pytest.fixture(scope="module")
def quick(mnist, tmp_path_factory) -> str:
  """The folder of one quick run of ``QUICK_VARIANTS``."""
  workdir = str(tmp_path_factory.mktemp("lecun1998"))
  run_experiment(get("lecun1998"), workdir, config=get_config(), data=mnist,
                 settings=Settings(seeds=(0,), quick=True, variants=QUICK_VARIANTS),
                 log=lambda line: None)
  return workdir


def load(workdir: str) -> dict:
  with open(os.path.join(workdir, "results.json")) as f:
    return json.load(f)


def test_every_row_of_both_recipes_is_a_valid_config():
  experiment = get("lecun1998")
  assert "lecun1998" in NAMES
  names = [v.name for v in experiment.variants]
  assert names == [f"{recipe}-{row.key}" for recipe in ("paper", "modern") for row in ROWS]
  assert {"paper-mlp_300-deslant", "modern-mlp_500_150-dist", "modern-lenet1"} <= set(names)
  published = {row.name: row.published for row in ROWS}
  assert len(published) == len(ROWS) == 13 and PUBLISHED.items() <= published.items()
  shared = configure(get_config(), dict(experiment.overrides))
  for variant in experiment.variants:
    config = configure(shared, dict(variant.overrides))
    check_config(config)
    models.create(config.model, **config.model_kwargs)
    dist = variant.name.endswith("-dist")
    assert config.augment == ("affine" if dist else "none")
    assert config.epochs == (DIST_EPOCHS if dist else EPOCHS)
    paper = variant.name.startswith("paper-")
    assert config.model_kwargs.activation == ("lecun_tanh" if paper else "relu")
    assert ("lecun" if paper else "scale") in config.preprocess.split("_")
  by_name = {v.name: v.overrides for v in experiment.variants}
  assert by_name["paper-lenet5"]["model"] == "lenet5"
  assert by_name["modern-lenet5"]["model"] == "lenet5_modern"
  assert by_name["paper-mlp_300-deslant"]["preprocess"] == "deslant_lecun_crop20"
  assert by_name["modern-lenet1"]["preprocess"] == "scale_down16_pad28"


def test_quick_run_tables_ours_against_the_published_errors(quick):
  results = load(quick)
  assert [v["name"] for v in results["variants"]] == list(QUICK_VARIANTS)
  assert all(v["epochs"] == 1 for v in results["variants"])  # --quick sets every variant's
  ours = {v["name"]: 100 * v["test_error"]["mean"] for v in results["variants"]}
  with open(os.path.join(quick, "results.md")) as f:
    text = f.read()
  assert "### Against the published table" in text and TABLE_HEAD in text
  expected = {
      "28x28-300-10": [f"{ours['paper-mlp_300']:.2f}", f"{ours['paper-mlp_300'] - 4.7:+.2f}",
                       f"{ours['modern-mlp_300']:.2f}", f"{ours['modern-mlp_300'] - 4.7:+.2f}"],
      "28x28-300-10 [dist]": ["–", "–", f"{ours['modern-mlp_300-dist']:.2f}",
                              f"{ours['modern-mlp_300-dist'] - 3.6:+.2f}"],
      "LeNet-5": [f"{ours['paper-lenet5']:.2f}", f"{ours['paper-lenet5'] - 0.95:+.2f}",
                  "–", "–"],
  }
  for row, cells in expected.items():
    assert f"| {row} | {PUBLISHED[row]:g} | {' | '.join(cells)} |" in text, row
  assert "LeNet-4 |" not in text  # rows not run are left out
  assert "cannot be judged: it needs two or more seeds" in text


def test_quick_run_records_the_comparison_in_results_json(quick):
  results = load(quick)
  errors = {v["name"]: v["test_error"]["mean"] for v in results["variants"]}
  rows = {r["row"]: r for r in results["analysis"]["rows"]}
  assert list(rows) == ["28x28-300-10", "28x28-300-10 [dist]", "LeNet-5"]
  for name, row in rows.items():
    assert row["published_percent"] == PUBLISHED[name]
  for recipe in ("paper", "modern"):
    entry = rows["28x28-300-10"][recipe]
    assert entry["variant"] == f"{recipe}-mlp_300" and entry["epochs"] == 1
    assert entry["mean_percent"] == pytest.approx(100 * errors[f"{recipe}-mlp_300"])
    assert entry["difference_points"] == pytest.approx(entry["mean_percent"] - 4.7)
    assert entry["std_percent"] is None and entry["verdict"] is None  # one seed
  lenet5 = rows["LeNet-5"]["paper"]
  assert lenet5["difference_points"] == pytest.approx(100 * errors["paper-lenet5"] - 0.95)
  assert "modern" not in rows["LeNet-5"] and "paper" not in rows["28x28-300-10 [dist]"]


def test_quick_run_draws_the_gallery(quick):
  results = load(quick)
  assert "gallery.png" in {f["file"] for f in results["figures"]}
  with open(os.path.join(quick, "results.md")) as f:
    assert "](gallery.png)" in f.read()
  with open(os.path.join(quick, "gallery.png"), "rb") as f:
    head = f.read(24)
  assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
  width, height = struct.unpack(">II", head[16:24])
  # Five rows (original, deslanted, affine, elastic, both) of ten digits.
  assert width > height > 300 and os.path.getsize(os.path.join(quick, "gallery.png")) > 20_000


def test_published_error_against_the_seed_prediction_interval():
  lenet5 = next(row for row in ROWS if row.name == "LeNet-5")
  record = lambda errors: {"name": "paper-lenet5", "epochs": 20, "test_error": spread(errors)}
  # Mean 1.1%, std 0.1%: one more run falls in 1.1 ± 4.30 x 0.1 x sqrt(4/3) = [0.60, 1.60].
  close = compare(lenet5, record([0.010, 0.011, 0.012]))
  low, high = close["prediction_interval_percent"]
  assert (low, high) == (pytest.approx(0.603, abs=1e-3), pytest.approx(1.597, abs=1e-3))
  assert close["verdict"] == "consistent"
  assert close["difference_points"] == pytest.approx(0.15)
  assert compare(lenet5, record([0.020, 0.021, 0.022]))["verdict"] == "higher"
  assert compare(lenet5, record([0.0050, 0.0051, 0.0052]))["verdict"] == "lower"


def test_shortfalls_tell_an_unfitted_network_from_one_that_generalises_worse():
  lenet5 = next(row for row in ROWS if row.name == "LeNet-5")
  ran = lambda train_accuracy: {"paper-lenet5": {"runs": [{"train_accuracy": train_accuracy}]}}
  # 1.50% test against 0.95% published: training error 1.40% has not fitted the
  # training digits (above 0.75%), 0.05% has.
  row = {"row": "LeNet-5", "published_percent": 0.95,
         "paper": compare(lenet5, {"name": "paper-lenet5", "epochs": 20,
                                   "test_error": spread([0.015])})}
  assert "1.50% against 0.95%, with a final training error of 1.40% (above half" in (
      shortfalls([row], ran(0.986), "paper"))
  assert "0.05% (it fits its training digits" in shortfalls([row], ran(0.9995), "paper")
  # Below the published error: no shortfall.
  row["paper"] = compare(lenet5, {"name": "paper-lenet5", "epochs": 20,
                                  "test_error": spread([0.008])})
  assert shortfalls([row], ran(0.99), "paper") == (
      "The paper recipe's mean error is at or below the published one in every row.")


def test_a_variant_trains_its_own_epochs_unless_the_user_sets_them(mnist, tmp_path):
  """``"epochs"`` in a variant's overrides beats the experiment's (here);
  ``--quick`` beats it (the quick run above, whose variants ask for 20 or 30)."""
  experiment = Experiment(name="epochs", title="t", question="q", motivation="m", method="m",
                          variants=(Variant("own", "own", {"epochs": 2}),), epochs=1,
                          overrides={"model": "mlp_300", "augment": "none"})
  data = MNIST(mnist.train.take(500), mnist.valid.take(500), mnist.test.take(500))
  results = run_experiment(experiment, str(tmp_path), config=get_config(), data=data,
                           settings=Settings(seeds=(0,)), log=lambda line: None)
  own, = results["variants"]
  assert own["epochs"] == 2 and len(own["runs"][0]["curves"]) == 2
  assert results["settings"]["epochs"] == 1
  with open(tmp_path / "results.md") as f:
    assert "(`own`): model `mlp_300`, 2 epochs\n" in f.read()
  assert report.epochs({"variants": [{"epochs": 30}, {"epochs": 20}, {"epochs": 20}]}) == (
      "20 to 30 epochs")
  assert report.epochs({"variants": [{"epochs": 12}]}) == "12 epochs"
