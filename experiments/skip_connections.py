"""Skip connections: plain ConvNets against residual networks of increasing
depth (He et al. 2016's degradation experiment, on MNIST).

  python run_experiment.py --experiment=skip_connections --workdir=W [--seeds=3] [--quick]
"""

from __future__ import annotations

import os

from typing import Any, Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from convnets.data import MNIST
from convnets.experiment import Analysis, Experiment, Figure, Trend, Variant
from convnets.experiment.spec import load_text
from convnets.experiment.stats import finished, per_seed, spread
from convnets.experiment.values import Comparison, Finding, Grid

DEPTHS = (4, 12, 24)
WIDTH = 8
TRAIN_EXAMPLES = 10_000


def last_train_losses(variant: Mapping[str, Any]) -> list[float]:
  """One training loss per seed: the last epoch's."""
  return [run["curves"][-1]["train_loss"] for run in finished(variant)]


def final_train_loss(variant: Mapping[str, Any]) -> dict[str, Any]:
  """Mean ± std over seeds of the training loss in the last epoch."""
  return spread(last_train_losses(variant))


def _by_depth(variants: list[Mapping[str, Any]], family: str) -> list[Mapping[str, Any]]:
  return sorted((v for v in variants if v["family"] == family), key=lambda v: v["coords"]["depth"])


def summarise(results: Mapping[str, Any]) -> list[Finding]:
  """The last epoch's training loss per variant; per family, the deepest
  net's training loss against the best-trained shallower one's (degradation:
  depth the net could ignore yet makes it worse); per depth, residual
  against plain on test error."""
  variants = results["variants"]
  findings: list[Finding] = [Grid(
      "final_train_loss", "Training loss against depth", [v["label"] for v in variants],
      ["training loss, last epoch"], [[last_train_losses(v)] for v in variants],
      units={"training loss, last epoch": ""}, corner="variant",
      note="Cross-entropy on the training digits in the last epoch, means ± std over seeds.")]
  for family in ("plain", "residual"):
    members = _by_depth(variants, family)
    if len(members) < 2:
      continue
    deep = members[-1]
    shallow = min(members[:-1], key=lambda v: final_train_loss(v)["mean"])
    findings.append(Comparison(
        f"degradation_{family}", f"{family}: training loss, {deep['coords']['depth'] + 2} "
        f"layers against {shallow['coords']['depth'] + 2} (the best-trained shallower)",
        last_train_losses(deep), last_train_losses(shallow), unit=""))
  residual = {v["coords"]["depth"]: v for v in _by_depth(variants, "residual")}
  findings += [Comparison(f"residual{d:g}", f"residual against plain, {d + 2:g} layers: test "
                          "error", per_seed(residual[d]), per_seed(plain))
               for d, plain in ((v["coords"]["depth"], v) for v in _by_depth(variants, "plain"))
               if d in residual]
  return findings


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """The figure of training loss against depth, per family: the degradation
  problem is an optimisation problem, so it shows on the training set first."""
  variants = results["variants"]
  losses = {v["name"]: final_train_loss(v) for v in variants}
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for family, marker in (("plain", "s"), ("residual", "o")):
    members = sorted((v for v in variants if v["family"] == family),
                     key=lambda v: v["coords"]["depth"])
    if not members:
      continue
    ax.errorbar([v["coords"]["depth"] + 2 for v in members],
                [losses[v["name"]]["mean"] for v in members],
                yerr=[losses[v["name"]]["std"] or 0.0 for v in members], fmt=f"{marker}-",
                capsize=4, label=family)
  ax.set(xlabel="weight layers (depth + stem + output)", yscale="log",
         ylabel="training cross-entropy, last epoch", title="Training loss against depth")
  ax.grid(True, which="both", alpha=0.3)
  ax.legend()
  fig.tight_layout()
  figure = Figure("train_loss_vs_depth.png", "Training loss in the last epoch against depth, "
                  "plain and residual: mean ± 1 std over seeds.")
  fig.savefig(os.path.join(workdir, figure.file), dpi=110)
  plt.close(fig)
  return Analysis({}, (figure,))


def _variant(depth: int, residual: bool) -> Variant:
  family = "residual" if residual else "plain"
  return Variant(f"{family}{depth}", f"{family}, {depth + 2} layers",
                 {"model.depth": depth, "model.residual": residual},
                 family=family, coords={"depth": depth})


EXPERIMENT = Experiment(
    name="skip_connections",
    **load_text(__file__).as_fields(),
    variants=tuple(_variant(depth, residual) for residual in (False, True) for depth in DEPTHS),
    epochs=5,
    trends=(Trend("depth", "depth: 3x3 convolutions in the blocks"),),
    analyse=analyse,
    summarise=summarise,
    overrides={"model.name": "resnet", "model.width": WIDTH, "augment.name": "none",
               "data.train_subset": TRAIN_EXAMPLES},
)
