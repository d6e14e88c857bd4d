"""Skip connections: plain ConvNets against residual networks of increasing
depth (He et al. 2016's degradation experiment, on MNIST).

  python experiments/skip_connections.py --workdir=W [--seeds=3] [--quick]

Time (2-core CPU, defaults), measured with the CPU shared with other jobs
(so an upper bound): a training step of 128 digits takes about 0.24 s at
depth 24, 0.12 s at 12 and 0.05 s at 4 (plain and residual alike);
evaluating 10,000 digits, forward only, about 78 steps' time / 3 (6.2, 3.1
and 1.3 s); compiling about 7 s per run. 3 seeds x 5 epochs of 78 steps
(10,000 digits): training 3 x 2 x 390 x (0.05 + 0.12 + 0.24) = 960 s,
5 validations and 1 test per run 3 x 2 x 6 x (1.3 + 3.1 + 6.2) = 380 s,
compiling 18 x 7 = 130 s: about 25 minutes (measured alone: 18.6).
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # run as a script: make the repository root importable
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from typing import Any, Mapping  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from convnets.data import MNIST  # noqa: E402
from convnets.experiment import Analysis, Experiment, Figure, Trend, Variant  # noqa: E402
from convnets.experiment.report import p_value  # noqa: E402
from convnets.experiment.stats import direction, pair, per_seed, spread, verdict  # noqa: E402

DEPTHS = (4, 12, 24)
WIDTH = 8
TRAIN_EXAMPLES = 10_000


def last_train_losses(variant: Mapping[str, Any]) -> list[float]:
  """One training loss per seed: the last epoch's."""
  return [run["curves"][-1]["train_loss"] for run in variant["runs"]]


def final_train_loss(variant: Mapping[str, Any]) -> dict[str, Any]:
  """Mean ± std over seeds of the training loss in the last epoch."""
  return spread(last_train_losses(variant))


def findings(variants: list[Mapping[str, Any]]) -> list[str]:
  """Per family, whether its deepest net trains to a higher loss than the
  shallower net that trained best (degradation: depth that a net could ignore
  yet makes it worse), and per depth residual against plain on test error;
  each difference by Welch's test on per-seed values."""
  lines = ["### What this shows", ""]
  by_depth = {}
  for family in ("plain", "residual"):
    members = sorted((v for v in variants if v["family"] == family),
                     key=lambda v: v["coords"]["depth"])
    by_depth[family] = {v["coords"]["depth"]: v for v in members}
    if len(members) < 2:
      continue
    deep = members[-1]
    shallow = min(members[:-1], key=lambda v: final_train_loss(v)["mean"])
    c = pair(last_train_losses(deep), last_train_losses(shallow))
    lines.append(f"- {family}: the {deep['coords']['depth'] + 2}-layer net ends with a training "
                 f"loss {c['difference']:+.4f} against the {shallow['coords']['depth'] + 2}-layer "
                 f"one, the best-trained shallower net (p = {p_value(c['p'])}, {verdict(c)}): "
                 + ("degradation" if direction(c) == "higher" else
                    "higher, but not beyond seed noise" if c["difference"] > 0 else
                    "no degradation") + ".")
  for depth in sorted(set(by_depth["plain"]) & set(by_depth["residual"])):
    plain, residual = by_depth["plain"][depth], by_depth["residual"][depth]
    c = pair(per_seed(residual), per_seed(plain))
    lines.append(f"- {depth + 2} layers: residual − plain test error "
                 f"{100 * c['difference']:+.2f} points (p = {p_value(c['p'])}, {verdict(c)}).")
  lines.append("- Not shown: depths beyond these, longer training on all 50,000 digits "
               f"({variants[0]['epochs']} epoch(s) on {TRAIN_EXAMPLES:,} here), or plain nets "
               "without batch normalisation.")
  return lines


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """Training loss against depth, per family: the degradation problem is an
  optimisation problem, so it shows on the training set first."""
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
  rows = [f"| {v['label']} | {losses[v['name']]['mean']:.4f} | "
          f"{100 * v['test_error']['mean']:.2f} |" for v in variants]
  markdown = "\n".join([
      "### Training loss against depth", "",
      "| variant | training loss, last epoch | test error (%) |", "|---|---:|---:|", *rows, "",
      "Degradation, in He et al.'s sense, is a deeper plain net with a *higher training* "
      "loss than a shallower one: not overfitting but a failure to optimise, which a "
      "residual net of the same depth should not show.", "",
      *findings(variants),
  ])
  return Analysis({"final_train_loss": losses}, markdown, (figure,))


def _variant(depth: int, residual: bool) -> Variant:
  family = "residual" if residual else "plain"
  return Variant(f"{family}{depth}", f"{family}, {depth + 2} layers",
                 {"model_kwargs.depth": depth, "model_kwargs.residual": residual},
                 family=family, coords={"depth": depth})


EXPERIMENT = Experiment(
    name="skip_connections",
    title="Skip connections: plain against residual ConvNets of increasing depth",
    question=(
        "As a ConvNet is made deeper, does a plain stack of convolutional layers train worse "
        "(higher training loss, not only higher test error) than a shallower one, and do "
        "identity skip connections (residual blocks) remove that degradation?"),
    motivation=(
        "Skip connections / ResNets are one of the coursework's more complex topics. He, Zhang, "
        "Ren & Sun 2016 found that beyond some depth plain networks reach *higher training "
        "error* than shallower ones (their Fig. 1), although the deeper net could imitate the "
        "shallower one by making its extra layers identities; so the problem is optimisation, "
        "not capacity or overfitting. Their residual blocks y = f(F(x) + x) make the identity "
        "the default (F = 0), and they trained nets of 110 layers without degradation. "
        "Whether the effect appears already at the depths a CPU can train on MNIST is what "
        "this experiment measures."),
    method=(
        f"The registered `resnet` family, identical except for the skip connections: a 3x3 "
        f"stem convolution of {WIDTH} maps and 2x2 max-pooling (14x14), then depth 3x3 "
        f"convolutions in blocks of two over two stages ({WIDTH} maps at 14x14, then "
        f"{2 * WIDTH} at 7x7, the first block of the second stage striding 2), global average "
        "pooling and 10 outputs: depth + 2 weight layers, depth in "
        f"{', '.join(map(str, DEPTHS))}. Every convolution is batch-normalised before its "
        "ReLU and initialised N(0, 2/fan_in), as in He et al. Residual blocks add their "
        "input (the identity, or a strided 1x1 convolution + BN where the shape changes, "
        "their option B) before the block's last ReLU; plain blocks do not. To afford the deep "
        f"nets on a 2-core CPU, every run trains on the first {TRAIN_EXAMPLES:,} training "
        "digits, without augmentation (so the training loss is the loss on those digits), "
        "for 5 epochs (390 steps); validation and test use the full sets. The degradation "
        "shows in the training loss (table below), the test error follows."),
    variants=tuple(_variant(depth, residual) for residual in (False, True) for depth in DEPTHS),
    epochs=5,
    trends=(Trend("depth", "depth: 3x3 convolutions in the blocks"),),
    analyse=analyse,
    overrides={"model": "resnet", "model_kwargs.width": WIDTH, "augment": "none",
               "train_subset": TRAIN_EXAMPLES},
)


if __name__ == "__main__":
  from experiments import cli
  cli.main(EXPERIMENT.name)
