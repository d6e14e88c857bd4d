"""Pooling functions in the lecture's simple ConvNet: max, average, sum and
Lp pooling (p = 2, p = 8, p learned), against no pooling at all.

  python experiments/pooling.py --workdir=W [--seeds=3] [--quick]
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # run as a script: make the repository root importable
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from typing import Any, Mapping  # noqa: E402

import numpy as np  # noqa: E402

from convnets.data import MNIST  # noqa: E402
from convnets.experiment import Analysis, Experiment, Variant  # noqa: E402
from convnets.experiment.stats import spread  # noqa: E402
from convnets.train.workdir import load_variables  # noqa: E402

LEARNED = "lp_learned"


def learned_p(variables: Mapping[str, Any]) -> float:
  """The first layer's Lp exponent, stored as ``rho`` with ``p = 1 + softplus(rho)``
  (:class:`convnets.layers.Pool2D`)."""
  rho = float(np.asarray(variables["params"]["conv1"]["pool"]["rho"]))
  return 1.0 + float(np.logaddexp(0.0, rho))


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """Report the exponent each seed of the learnable-p variant ended with."""
  record = next((v for v in results["variants"] if v["name"] == LEARNED), None)
  if record is None:
    return Analysis({}, "")
  values = [learned_p(load_variables(os.path.join(workdir, run["workdir"])))
            for run in record["runs"]]
  summary = spread(values)
  start = record["model_kwargs"]["pool_p"]
  moves = [p - start for p in values]
  if all(m < 0 for m in moves):
    direction = "down, towards sum pooling (p = 1 is sum pooling of the non-negative ReLU outputs)"
  elif all(m > 0 for m in moves):
    direction = "up, towards max pooling (the limit p -> infinity)"
  else:
    direction = "in no consistent direction across seeds"
  std = "" if summary["std"] is None else f" ± {summary['std']:.2f}"
  markdown = "\n".join([
      "### The learned exponent",
      "",
      f"Starting from p = {start:g}, the learnable Lp pooling ended at p = "
      + ", ".join(f"{p:.2f}" for p in values)
      + f" for seeds {', '.join(str(r['seed']) for r in record['runs'])} (mean "
      f"{summary['mean']:.2f}{std}): training moved p {direction}, by "
      f"{abs(summary['mean'] - start):.2f} on average in {results['settings']['epochs']} "
      "epoch(s).",
  ])
  return Analysis({"learned_p": values, "learned_p_start": start}, markdown)


def _pool(kind: str, **extra: Any) -> dict[str, Any]:
  return {"model_kwargs.pooling": kind, **{f"model_kwargs.{k}": v for k, v in extra.items()}}


EXPERIMENT = Experiment(
    name="pooling",
    title="Pooling functions in the simple ConvNet",
    question=(
        "Which pooling function gives the simple ConvNet the lowest test error on MNIST: "
        "max, average, sum or Lp pooling (p = 2, p = 8, or p learned)? And does pooling help "
        "at all, compared with reaching the same 12x12 map size by a stride-2 convolution "
        "without pooling?"),
    motivation=(
        "Lecture 7 lists these pooling functions as alternatives (max-pooling, Lp-pooling "
        "`h' = (Σ h_i^p)^(1/p)`, average and sum pooling) and motivates pooling as "
        "information reduction that removes precise location information. They interpolate "
        "between each other: for the non-negative outputs of ReLU units L1 is sum pooling and "
        "Lp tends to max as p grows, so a learned p lets the network choose. Which one works "
        "best is an empirical question; a no-pooling control with the same number of units and "
        "weights isolates the effect of pooling from that of the smaller maps it produces."),
    method=(
        "The lecture's simple ConvNet (20 5x5 feature maps, ReLU, 2x2 non-overlapping pooling "
        "to 12x12 maps, 100 ReLU hidden units, 10 outputs; 289,630 weights) with the pooling "
        "function varied. Pooling is applied to each feature map after the ReLU (for max "
        "pooling the implementation pools before adding the bias and applying the ReLU, the "
        "same function). Learned p: one exponent per layer, parameterised as "
        "`p = 1 + softplus(ρ)` so that p ≥ 1, initialised at p = 2 and trained with the "
        "weights. Control: no pooling, the 5x5 convolution applied with stride 2 instead, "
        "which also gives 12x12 maps and the same 289,630 weights but computes only a "
        "quarter of the feature-map units. 3 epochs per run rather than the default 12 "
        "(the cosine schedule still decays to zero), so that 7 variants x 3 seeds fit a "
        "30-minute budget on a 2-core CPU: Lp pooling costs 1.5x (p = 2) to about 4x "
        "(learned p) as much per epoch as max pooling there. Every variant gets the same 3."),
    variants=(
        Variant("max", "max", _pool("max")),
        Variant("avg", "average", _pool("avg")),
        Variant("sum", "sum", _pool("sum")),
        Variant("lp2", "L2", _pool("lp", pool_p=2.0)),
        Variant("lp8", "L8", _pool("lp", pool_p=8.0)),
        Variant(LEARNED, "Lp, p learned (from 2)", _pool("lp", pool_p=2.0, learnable_p=True)),
        Variant("none_stride2", "no pooling, stride 2", _pool("none", conv_stride=2)),
    ),
    epochs=3,
    reference="max",
    analyse=analyse,
)


if __name__ == "__main__":
  from experiments import cli
  cli.main(EXPERIMENT.name)
