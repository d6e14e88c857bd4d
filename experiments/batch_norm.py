"""Batch normalisation against learning rate: the lecture's ConvNet and a
deeper ConvNet, with and without batch normalisation, trained by SGD with
momentum at three learning rates.

  python run_experiment.py --experiment=batch_norm --workdir=W [--seeds=3] [--quick]
"""

from __future__ import annotations

from typing import Any, Mapping

from convnets.experiment import Experiment, Trend, Variant
from convnets.experiment.spec import load_text
from convnets.experiment.stats import finished, per_seed
from convnets.experiment.values import Comparison, Finding, Grid

LEARNING_RATES = (0.01, 0.1, 0.5)
CHANCE = 0.8  # a test error at least this high: the run learnt next to nothing
# The deeper ConvNet: four 3x3 convolution + 2x2 max-pooling layers of 16 maps
# (28 -> 14 -> 7 -> 3 -> 1), then 100 hidden units: about the lecture
# ConvNet's cost per epoch on CPU, with four times its depth of convolutions.
DEEP = {"model.conv_features": (16, 16, 16, 16), "model.kernel_size": 3,
        "model.padding": "SAME", "model.conv_impl": "xla"}
NETWORKS = {"simple": ("simple ConvNet", {}), "deep": ("4-layer ConvNet", DEEP)}


def _variant(network: str, batch_norm: bool, rate: float) -> Variant:
  label, overrides = NETWORKS[network]
  family = f"{label}, {'BN' if batch_norm else 'no BN'}"
  settings: dict[str, Any] = {**overrides, "model.batch_norm": batch_norm,
                              "optimizer.learning_rate": rate}
  return Variant(f"{network}_{'bn' if batch_norm else 'plain'}_lr{rate:g}",
                 f"{family}, lr {rate:g}", settings, family=family,
                 coords={"learning_rate": rate})


def failed(variant: Mapping[str, Any]) -> int:
  """Seeds whose loss became infinite or NaN (the run diverged: it has no
  test error, or in the committed runs it stopped early and was tested as it
  was) or whose test error is ``CHANCE`` or more (stuck at one class)."""
  return len(variant["runs"]) - sum(run["epochs"] == variant["epochs"]
                                    and run["test_error"] < CHANCE for run in finished(variant))


def first_epoch(variant: Mapping[str, Any]) -> list[float]:
  """Per seed, the validation error after the first epoch (where one was measured)."""
  return [1 - run["curves"][0]["valid_accuracy"] for run in variant["runs"]
          if run["curves"] and run["curves"][0].get("valid_accuracy") is not None]


def summarise(results: Mapping[str, Any]) -> list[Finding]:
  """Per network and learning rate, the network with BN against the same
  without: the test errors (Welch), the validation error after the first
  epoch (the speed of training) and the failed runs."""
  by_name = {v["name"]: v for v in results["variants"]}
  comparisons, rows, cells = [], [], []
  for network, (label, _) in NETWORKS.items():
    for rate in LEARNING_RATES:
      plain = by_name.get(f"{network}_plain_lr{rate:g}")
      normed = by_name.get(f"{network}_bn_lr{rate:g}")
      if plain is None or normed is None:
        continue
      comparisons.append(Comparison(f"{network}_lr{rate:g}", f"with BN against without, "
                                    f"{label}, lr {rate:g}", per_seed(normed), per_seed(plain)))
      rows.append(f"{label}, lr {rate:g}")
      cells.append([first_epoch(plain), first_epoch(normed), failed(plain), failed(normed)])
  if not rows:
    return []
  return [Grid("first_epoch", "With against without batch normalisation", rows,
               ["valid error after epoch 1, no BN", "valid error after epoch 1, BN",
                "failed runs, no BN", "failed runs, BN"], cells,
               units={"failed runs, no BN": "", "failed runs, BN": ""}, corner="network",
               note=f"Means ± std over seeds. Failed runs: seeds whose loss became infinite or "
               f"NaN (tested as they were when they stopped) or whose test error is "
               f"{100 * CHANCE:.0f}% or more (stuck at one class); one failed seed among three "
               "can hide a real difference from Welch's test, whose variance it inflates."),
          *comparisons]


EXPERIMENT = Experiment(
    name="batch_norm",
    **load_text(__file__).as_fields(),
    variants=tuple(_variant(network, batch_norm, rate) for network in NETWORKS
                   for batch_norm in (False, True) for rate in LEARNING_RATES),
    epochs=3,
    trends=(Trend("learning_rate", "initial learning rate (log scale)", log_x=True),),
    summarise=summarise,
    overrides={"optimizer.name": "momentum", "optimizer.momentum": 0.9,
               "optimizer.learning_rate": 0.1},
)
