"""Regularisation of an overfitting MLP: L1 against L2 weight penalties over a
range of strengths, both together, and dropout; test error and what each
does to the weights.

  python experiments/regularisation.py --workdir=W [--seeds=3] [--quick]

Time (2-core CPU, defaults): the 28x28-1000-10 MLP takes about 2 s per epoch
(dropout about 2.4 s) plus 0.3 s of validation, and each run adds about 8 s.
10 variants x 3 seeds x 12 epochs: 30 x (12 x 2.3 + 8) + 6 x 12 x 0.4
= 1,070 + 30 s, about 18 minutes.
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
import numpy as np  # noqa: E402

from convnets.data import MNIST  # noqa: E402
from convnets.experiment import Analysis, Experiment, Figure, Variant  # noqa: E402
from convnets.experiment.report import p_value, percent  # noqa: E402
from convnets.experiment.stats import spread, verdict  # noqa: E402
from convnets.ops.regularisers import weights  # noqa: E402
from convnets.train.workdir import load_variables  # noqa: E402

L1 = (1e-6, 1e-5, 1e-4)
L2 = (1e-5, 1e-4, 1e-3)
BOTH = {"l1": 1e-5, "l2": 1e-4}
DROPOUT = (0.2, 0.5)
# The variants whose first-layer weights are drawn as histograms.
HISTOGRAMS = ("none", f"l1_{max(L1):g}", f"l2_{max(L2):g}", "l1_l2", f"dropout_{max(DROPOUT):g}")
# |w| below this counts as zero: 3% of the initial weights' standard
# deviation (1 / sqrt(784) = 0.036), so about 2% of them at initialisation.
NEAR_ZERO = 1e-3


def weight_statistics(params: Mapping[str, Any]) -> dict[str, float]:
  """Over all weights (kernels, not biases): the fraction with ``|w| <
  NEAR_ZERO``, mean ``|w|`` and RMS; and the fraction of the 784 input pixels
  whose every first-layer weight is near zero (inputs the network ignores)."""
  w = np.concatenate([np.ravel(k) for k in weights(params)])
  first = np.abs(np.asarray(params["hidden1"]["kernel"]))  # (784, hidden)
  return {"near_zero": float(np.mean(np.abs(w) < NEAR_ZERO)),
          "mean_abs": float(np.mean(np.abs(w))), "rms": float(np.sqrt(np.mean(w * w))),
          "ignored_inputs": float(np.mean(np.all(first < NEAR_ZERO, axis=1)))}


def strength_figure(variants: list[Mapping[str, Any]], stats: Mapping[str, Any],
                    path: str) -> None:
  """Test error and fraction of near-zero weights against penalty strength,
  L1 and L2 as lines; the other variants as horizontal lines."""
  fig, (ax_err, ax_zero) = plt.subplots(1, 2, figsize=(12, 4.5))
  for i, variant in enumerate(variants):
    colour = plt.get_cmap("tab10")(i % 10)
    error = 100 * variant["test_error"]["mean"]
    zero = 100 * stats[variant["name"]]["near_zero"]["mean"]
    if "strength" not in variant["coords"]:
      ax_err.axhline(error, color=colour, ls="--", lw=1, label=variant["label"])
      ax_zero.axhline(zero, color=colour, ls="--", lw=1, label=variant["label"])
  for family, marker in (("L1", "o"), ("L2", "s")):
    members = sorted((v for v in variants if v["family"] == family),
                     key=lambda v: v["coords"]["strength"])
    if not members:
      continue
    x = [v["coords"]["strength"] for v in members]
    ax_err.errorbar(x, [100 * v["test_error"]["mean"] for v in members],
                    yerr=[100 * (v["test_error"]["std"] or 0.0) for v in members],
                    fmt=f"{marker}-", capsize=4, label=family, color="black" if family == "L1"
                    else "grey")
    ax_zero.plot(x, [100 * stats[v["name"]]["near_zero"]["mean"] for v in members],
                 f"{marker}-", label=family, color="black" if family == "L1" else "grey")
  ax_err.set(xscale="log", xlabel="penalty coefficient (log scale)", ylabel="test error (%)",
             title="test error (mean ± 1 std over seeds)")
  ax_zero.set(xscale="log", xlabel="penalty coefficient (log scale)",
              ylabel=f"weights with |w| < {NEAR_ZERO:g} (%)", title="near-zero weights")
  for ax in (ax_err, ax_zero):
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def histogram_figure(first_layers: Mapping[str, np.ndarray], path: str) -> None:
  """Histograms of first-layer weights (one seed), one step line per variant,
  counts on a log scale so that the tails and the spike at 0 both show."""
  fig, ax = plt.subplots(figsize=(8, 4.8))
  limit = max(float(np.abs(w).max()) for w in first_layers.values())
  bins = np.linspace(-limit, limit, 121)
  for i, (label, w) in enumerate(first_layers.items()):
    ax.hist(np.ravel(w), bins=bins, histtype="step", lw=1.4, label=label,
            color=plt.get_cmap("tab10")(i % 10))
  ax.set(yscale="log", xlabel="first-layer weight", ylabel="count (log scale)",
         title="First-layer weights after training (one seed)")
  ax.grid(True, alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def findings(variants: list[Mapping[str, Any]], comparisons: Mapping[str, Any],
             stats: Mapping[str, Any], reference: str) -> list[str]:
  """What the runs show, in sentences built from their numbers: per penalty,
  the strongest coefficient whose test error the seeds do not tell from the
  reference's, with the sparsity it bought; the coefficients that cost error;
  and the best variant."""
  def near_zero(name: str) -> str:
    return f"{100 * stats[name]['near_zero']['mean']:.1f}%"

  reference_label = next(v["label"] for v in variants if v["name"] == reference)
  lines = ["### What this shows", ""]
  for family in ("L1", "L2"):
    members = sorted((v for v in variants if v["family"] == family),
                     key=lambda v: v["coords"]["strength"])
    harmless = [v for v in members if not comparisons[v["name"]]["significant"]]
    costly = [v for v in members if comparisons[v["name"]]["significant"]]
    if harmless:
      v = harmless[-1]
      lines.append(f"- {family}: up to {v['coords']['strength']:g} the test error is within "
                   f"seed-to-seed noise of {reference_label}'s, and at that strength "
                   f"{near_zero(v['name'])} of the weights are near zero (against "
                   f"{near_zero(reference)} unregularised).")
    for v in costly:
      difference = 100 * comparisons[v["name"]]["difference"]
      lines.append(f"- {family} {v['coords']['strength']:g} costs {difference:+.2f} points "
                   f"(p = {p_value(comparisons[v['name']]['p'])}), with "
                   f"{near_zero(v['name'])} of the weights near zero and "
                   f"{100 * stats[v['name']]['ignored_inputs']['mean']:.0f}% of the input "
                   "pixels ignored.")
  best = min(variants, key=lambda v: v["test_error"]["mean"])
  if best["name"] != reference:
    comparison = comparisons[best["name"]]
    lines.append(f"- The lowest mean error, {best['label']}'s, against {reference_label}'s: "
                 f"{verdict(comparison)} (p = {p_value(comparison['p'])}).")
  lines.append("- Not shown: whether any of these helps a network that overfits more (longer "
               "training, fewer examples) or a ConvNet, or with augmentation; strengths between "
               "the grid points were not tried.")
  return lines


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """Weight statistics of every run, their table, the strength figure and
  the first-layer histograms of a few variants."""
  variants = results["variants"]
  stats, first_layers = {}, {}
  for variant in variants:
    params = [load_variables(os.path.join(workdir, run["workdir"]))["params"]
              for run in variant["runs"]]
    per_run = [weight_statistics(p) for p in params]
    stats[variant["name"]] = {key: spread([s[key] for s in per_run]) for key in per_run[0]}
    if variant["name"] in HISTOGRAMS:
      first_layers[variant["label"]] = np.asarray(params[0]["hidden1"]["kernel"])
  lines = ["### What the penalties do to the weights", "",
           f"| variant | test error (%) | weights with \\|w\\| < {NEAR_ZERO:g} (%) | mean \\|w\\| "
           "| RMS w | ignored input pixels (%) |", "|---|---:|---:|---:|---:|---:|"]
  for variant in variants:
    s, test = stats[variant["name"]], variant["test_error"]
    lines.append(f"| {variant['label']} | {percent(test['mean'], test['std'])} | "
                 f"{percent(s['near_zero']['mean'], s['near_zero']['std'])} | "
                 f"{s['mean_abs']['mean']:.4f} | {s['rms']['mean']:.4f} | "
                 f"{percent(s['ignored_inputs']['mean'], s['ignored_inputs']['std'])} |")
  lines += ["", "Over all weights (kernels), means over seeds. An ignored input pixel has every "
            f"first-layer weight below {NEAR_ZERO:g} in magnitude. The data never pull on the "
            "weights of pixels that never carry ink (MNIST's border), so there the penalty "
            "acts alone: L1's constant pull should take them to zero, L2's pull, proportional "
            "to the weight, only towards it; the last column says whether they got there."]
  lines += ["", *findings(variants, results["comparisons"], stats, results["reference"])]
  figures = [Figure("strength.png", "Test error and the fraction of near-zero weights against "
                    "the L1 or L2 coefficient; dashed: the unpenalised, combined and dropout "
                    "variants.")]
  strength_figure(variants, stats, os.path.join(workdir, figures[0].file))
  if first_layers:  # a run of selected variants may have none of them
    figures.append(Figure("histograms.png", "First-layer weights after training (first seed) "
                          "of the unregularised net, the strongest L1 and L2 penalties, both "
                          "together, and the stronger dropout."))
    histogram_figure(first_layers, os.path.join(workdir, figures[1].file))
  return Analysis({"weights": stats}, "\n".join(lines), tuple(figures))


EXPERIMENT = Experiment(
    name="regularisation",
    title="L1 against L2 weight penalties, and dropout, in an overfitting MLP",
    question=(
        "Which regularisation lowers an overfitting MLP's test error most: an L1 penalty "
        "Σ|w|, an L2 penalty ½Σw², both, or dropout, and at what strength? How do L1 and L2 "
        "change the learnt weights: does L1 make them sparse, as the theory says, while L2 "
        "only shrinks them?"),
    motivation=(
        "L1 vs L2 regularisation is one of the coursework's simpler topics. Both add a penalty "
        "on the weights to the training loss, preferring simple functions. L2's gradient λw "
        "shrinks every weight in proportion to its size (weight decay); L1's gradient λ "
        "sign(w) pulls every weight towards zero at the same rate, so the weights the data "
        "do not defend become exactly zero (Goodfellow, Bengio & Courville, Deep Learning, "
        "Sections 7.1.1-7.1.2). Dropout (Srivastava et al. 2014) regularises differently, by "
        "training a random thinned network at every step. The 28x28-1000-10 MLP without "
        "augmentation fits its 50,000 training digits almost perfectly, so there is "
        "overfitting to remove."),
    method=(
        "The MLP 28x28-1000-10 (`mlp_1000`, ReLU), without augmentation, trained by SGD with "
        "momentum 0.9 and a cosine-decayed learning rate from 0.1, to minimise mean "
        "cross-entropy + λ1 Σ|w| + λ2 ½Σw² over the weights w (the two kernels; biases are "
        "not penalised). SGD rather than Adam, because Adam rescales each weight's gradient, "
        "penalty included, by its history, so that an L2 penalty no longer acts as weight "
        "decay (Loshchilov & Hutter 2019) and L1's constant pull is no longer constant. "
        f"Strengths: λ1 in {', '.join(f'{v:g}' for v in L1)}, λ2 in "
        f"{', '.join(f'{v:g}' for v in L2)}, both together (λ1 = {BOTH['l1']:g}, "
        f"λ2 = {BOTH['l2']:g}); with an effective step of about 0.1 / (1 - 0.9) = 1 over "
        "4,680 steps, these range from barely changing the initial weights (|w| about 0.03) "
        "to pulling them to zero. Dropout: each hidden unit dropped with probability "
        f"{' or '.join(map(str, DROPOUT))} in training (survivors scaled by 1/(1 - p)), none "
        "at test. The reported training loss is the cross-entropy alone. After training, "
        "the weights of every run are read back for the statistics below. 12 epochs per run "
        "(the default), with which 10 variants x 3 seeds fit the 30-minute budget on a "
        "2-core CPU."),
    variants=(
        Variant("none", "no regularisation"),
        *(Variant(f"l1_{v:g}", f"L1 {v:g}", {"l1": v}, family="L1", coords={"strength": v})
          for v in L1),
        *(Variant(f"l2_{v:g}", f"L2 {v:g}", {"l2": v}, family="L2", coords={"strength": v})
          for v in L2),
        Variant("l1_l2", f"L1 {BOTH['l1']:g} + L2 {BOTH['l2']:g}", dict(BOTH)),
        *(Variant(f"dropout_{p:g}", f"dropout {p:g}", {"model_kwargs.dropout": p})
          for p in DROPOUT),
    ),
    epochs=12,
    reference="none",
    analyse=analyse,
    overrides={"model": "mlp_1000", "augment": "none", "optimizer": "momentum",
               "momentum": 0.9, "learning_rate": 0.1},
)


if __name__ == "__main__":
  from experiments import cli
  cli.main(EXPERIMENT.name)
