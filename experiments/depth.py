"""Depth: ConvNets with 1, 2 and 3 stacked convolutional layers against MLPs
with 1, 2 and 3 hidden layers; test error against depth and against size.

  python run_experiment.py --experiment=depth --workdir=W [--seeds=3] [--quick]
"""

from __future__ import annotations

from typing import Any, Mapping

from convnets.experiment import Experiment, Trend, Variant
from convnets.experiment.spec import load_text
from convnets.experiment.stats import per_seed
from convnets.experiment.values import Comparison, Finding, Value

DEPTHS = (1, 2, 3)
MAPS = 20            # feature maps of every conv layer, the lecture's 20
CONV_HIDDEN = 100    # the simple ConvNet's fully connected layer
MLP_HIDDEN = 300     # LeCun et al. 1998's 28x28-300-10 and its deeper versions


def summarise(results: Mapping[str, Any]) -> list[Finding]:
  """ConvNet against MLP at each depth, and the smallest ConvNet against the
  largest MLP with the ratio of their sizes: is the ConvNets' advantage a
  matter of size?"""
  by_name = {v["name"]: v for v in results["variants"]}
  convnets = [v for v in results["variants"] if v["family"] == "ConvNet"]
  mlps = [v for v in results["variants"] if v["family"] == "MLP"]
  if not convnets or not mlps:
    return []
  findings: list[Finding] = [
      Comparison(f"depth{d}", f"ConvNet against MLP, depth {d}", per_seed(by_name[f"convnet{d}"]),
                 per_seed(by_name[f"mlp{d}"]))
      for d in DEPTHS if f"convnet{d}" in by_name and f"mlp{d}" in by_name]
  small = min(convnets, key=lambda v: v["params"])
  large = max(mlps, key=lambda v: v["params"])
  findings += [
      Comparison("size", f"the smallest ConvNet ({small['label']}) against the largest MLP "
                 f"({large['label']})", per_seed(small), per_seed(large)),
      Value("size_ratio", f"parameters of {large['label']} per parameter of {small['label']}",
            large["params"] / small["params"])]
  return findings


def _convnet(depth: int) -> dict[str, Any]:
  return {"model.name": "convnet", "model.conv_features": (MAPS,) * depth,
          "model.padding": "SAME", "model.hidden": (CONV_HIDDEN,)}


def _mlp(depth: int) -> dict[str, Any]:
  return {"model.name": "mlp_300", "model.hidden": (MLP_HIDDEN,) * depth}


EXPERIMENT = Experiment(
    name="depth",
    **load_text(__file__).as_fields(),
    variants=(
        *(Variant(f"convnet{d}", f"ConvNet, {d} conv layer{'s' if d > 1 else ''}",
                  _convnet(d), family="ConvNet", coords={"depth": d}) for d in DEPTHS),
        *(Variant(f"mlp{d}", f"MLP, {d} hidden layer{'s' if d > 1 else ''}", _mlp(d),
                  family="MLP", coords={"depth": d}) for d in DEPTHS),
    ),
    epochs=3,
    trends=(Trend("depth", "depth (conv layers of a ConvNet, hidden layers of an MLP)"),
            Trend("params", "parameters", log_x=True),
            Trend("connections", "connections, multiply-adds per example", log_x=True)),
    summarise=summarise,
)
