"""Depth: ConvNets with 1, 2 and 3 stacked convolutional layers against MLPs
with 1, 2 and 3 hidden layers; test error against depth and against size.

  python experiments/depth.py --workdir=W [--seeds=3] [--quick]
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # run as a script: make the repository root importable
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from typing import Any, Mapping  # noqa: E402

from convnets.data import MNIST  # noqa: E402
from convnets.experiment import Analysis, Experiment, Trend, Variant  # noqa: E402
from convnets.experiment.report import p_value  # noqa: E402
from convnets.experiment.stats import direction, pair, per_seed  # noqa: E402

DEPTHS = (1, 2, 3)
MAPS = 20            # feature maps of every conv layer, the lecture's 20
CONV_HIDDEN = 100    # the simple ConvNet's fully connected layer
MLP_HIDDEN = 300     # LeCun et al. 1998's 28x28-300-10 and its deeper versions


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """ConvNet against MLP at each depth, and the smallest ConvNet against the
  largest MLP: is the ConvNets' advantage a matter of size?"""
  by_name = {v["name"]: v for v in results["variants"]}
  pairs = [(by_name[f"convnet{d}"], by_name[f"mlp{d}"]) for d in DEPTHS
           if f"convnet{d}" in by_name and f"mlp{d}" in by_name]
  convnets = [v for v in results["variants"] if v["family"] == "ConvNet"]
  mlps = [v for v in results["variants"] if v["family"] == "MLP"]
  if not convnets or not mlps:
    return Analysis({}, "")
  rows, equal_depth = [], []
  for conv, mlp in pairs:
    test = pair(per_seed(conv), per_seed(mlp))
    equal_depth.append({"depth": conv["coords"]["depth"], "convnet": conv["name"],
                        "mlp": mlp["name"], **test})
    rows.append(f"| {conv['coords']['depth']:g} | {100 * conv['test_error']['mean']:.2f} | "
                f"{100 * mlp['test_error']['mean']:.2f} | "
                f"{100 * equal_depth[-1]['difference']:+.2f} | {p_value(test['p'])} | "
                f"{conv['params']:,} | {mlp['params']:,} |")
  small = min(convnets, key=lambda v: v["params"])
  large = max(mlps, key=lambda v: v["params"])
  size = {"convnet": small["name"], "mlp": large["name"],
          **pair(per_seed(small), per_seed(large))}
  ratio = large["params"] / small["params"]
  if direction(size) == "lower":
    reading = ("So the ConvNets' advantage is not a matter of size: local receptive fields "
               "and shared weights make better use of far fewer parameters.")
  elif direction(size) == "higher":
    reading = "So here size does buy the MLP the lower error."
  else:
    reading = "The seeds cannot resolve that difference."
  markdown = "\n".join([
      "### ConvNet against MLP at equal depth, and size",
      "",
      "| depth | ConvNet error (%) | MLP error (%) | difference (points) | p (Welch) | "
      "ConvNet params | MLP params |",
      "|---:|---:|---:|---:|---:|---:|---:|",
      *rows,
      "",
      f"The smallest ConvNet, **{small['label']}** ({small['params']:,} parameters), has "
      f"{100 * small['test_error']['mean']:.2f}% test error against "
      f"{100 * large['test_error']['mean']:.2f}% for the largest MLP, **{large['label']}** "
      f"({large['params']:,} parameters, {ratio:.1f}x as many; p = {p_value(size['p'])}). "
      f"{reading}",
  ])
  return Analysis({"equal_depth": equal_depth, "smallest_convnet_vs_largest_mlp": size},
                  markdown)


def _convnet(depth: int) -> dict[str, Any]:
  return {"model": "convnet", "model_kwargs.conv_features": (MAPS,) * depth,
          "model_kwargs.padding": "SAME", "model_kwargs.hidden": (CONV_HIDDEN,)}


def _mlp(depth: int) -> dict[str, Any]:
  return {"model": "mlp_300", "model_kwargs.hidden": (MLP_HIDDEN,) * depth}


EXPERIMENT = Experiment(
    name="depth",
    title="Depth: stacked convolutional layers against stacked fully connected layers",
    question=(
        "How does test error change with the number of layers, for ConvNets (1, 2 or 3 "
        "convolution + pooling layers) and for MLPs (1, 2 or 3 hidden layers)? Is a ConvNet "
        "better than an MLP at every depth, and is that explained by its number of "
        "parameters?"),
    motivation=(
        "Lecture 7 motivates convolutional layers by what MLPs ignore, the images' 2-D "
        "structure, and builds deeper ConvNets by stacking convolutional layers whose units "
        "each see all the feature maps of the layer below (a second 5x5 layer on 20 maps: "
        "20 x 5 x 5 = 500 weights per unit). LeCun et al.'s 1998 table compares MLPs with "
        "one and two hidden layers against LeNets. Depth is also one of the coursework's "
        "suggested topics (number of layers). Plotting error against parameters separates "
        "the effect of depth and weight sharing from that of sheer size."),
    method=(
        f"ConvNets: {', '.join(map(str, DEPTHS))} layers of {MAPS} 5x5 feature maps with ReLU "
        f"and 2x2 max-pooling, then {CONV_HIDDEN} ReLU hidden units and 10 outputs. Every "
        "convolution uses SAME zero-padding (the map keeps its size before pooling: 28 -> 14 "
        "-> 7 -> 3), because with the lecture's unpadded convolutions a third 5x5 layer no "
        "longer fits (28 -> 24 -> 12 -> 8 -> 4). So the 1-layer ConvNet here has 14x14 maps, "
        "not the lecture's 12x12, and more weights than the lecture's 289,630. MLPs (the "
        f"`mlp_300` model): 1, 2 or 3 hidden layers of {MLP_HIDDEN} ReLU units on the "
        "unrolled 784-pixel image. Depth means convolutional layers for a ConvNet (each also "
        "has one fully connected hidden layer) and hidden layers for an MLP. 3 epochs per run "
        "rather than the default 12 (the cosine schedule still decays to zero), so that 6 "
        "variants x 3 seeds fit a 30-minute budget on a 2-core CPU: the 2- and 3-layer "
        "ConvNets cost three to five times the simple ConvNet per epoch there. Every variant gets "
        "the same 3."),
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
    analyse=analyse,
)


if __name__ == "__main__":
  from experiments import cli
  cli.main(EXPERIMENT.name)
