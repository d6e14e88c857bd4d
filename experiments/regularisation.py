"""Regularisation of an overfitting MLP: L1 against L2 weight penalties over a
range of strengths, both together, and dropout; test error and what each
does to the weights.

  python run_experiment.py --experiment=regularisation --workdir=W [--seeds=3] [--quick]
"""

from __future__ import annotations

import os

from typing import Any, Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from convnets.data import MNIST
from convnets.experiment import Analysis, Experiment, Figure, Variant
from convnets.experiment.spec import load_text
from convnets.experiment.stats import spread
from convnets.experiment.values import Finding, Grid, Value
from convnets.ops.regularisers import weights
from convnets.train.workdir import load_variables

L1 = (1e-6, 1e-5, 1e-4)
L2 = (1e-5, 1e-4, 1e-3)
BOTH = {"loss.l1": 1e-5, "loss.l2": 1e-4}
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


# The weight statistics' columns: key, heading, unit.
COLUMNS = (("near_zero", f"weights with |w| < {NEAR_ZERO:g}", "%"), ("mean_abs", "mean |w|", ""),
           ("rms", "RMS w", ""), ("ignored_inputs", "ignored input pixels", "%"))


def summarise(results: Mapping[str, Any]) -> list[Finding]:
  """The weight statistics per variant (as :func:`analyse` stored them), and
  per penalty the strongest coefficient whose test error the seeds do not
  tell from the reference's, with the sparsity it bought."""
  stats = results["analysis"].get("weights", {})
  variants = [v for v in results["variants"] if v["name"] in stats]
  if not variants:
    return []
  findings: list[Finding] = [Grid(
      "weights", "What the penalties do to the weights", [v["label"] for v in variants],
      [heading for _, heading, _ in COLUMNS],
      [[stats[v["name"]][key] for key, _, _ in COLUMNS] for v in variants],
      units={heading: unit for _, heading, unit in COLUMNS}, corner="variant",
      note="Over all weights (kernels), means ± std over seeds. An ignored input pixel has "
      f"every first-layer weight below {NEAR_ZERO:g} in magnitude.")]
  for family in ("L1", "L2"):
    harmless = sorted((v for v in variants if v["family"] == family
                       and not results["comparisons"][v["name"]]["significant"]),
                      key=lambda v: v["coords"]["strength"])
    if harmless:
      v = harmless[-1]
      findings += [
          Value(f"{family}_harmless", f"largest {family} coefficient within seed noise of the "
                "reference", v["coords"]["strength"]),
          Value(f"{family}_harmless_near_zero", f"weights with |w| < {NEAR_ZERO:g} at that "
                "coefficient", stats[v["name"]]["near_zero"], "%")]
  return findings


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """Weight statistics of every run (read back from its variables), the
  strength figure and the first-layer histograms of a few variants."""
  variants = results["variants"]
  stats, first_layers = {}, {}
  for variant in variants:
    params = [load_variables(os.path.join(workdir, run["workdir"]))["params"]
              for run in variant["runs"]]
    per_run = [weight_statistics(p) for p in params]
    stats[variant["name"]] = {key: spread([s[key] for s in per_run]) for key in per_run[0]}
    if variant["name"] in HISTOGRAMS:
      first_layers[variant["label"]] = np.asarray(params[0]["hidden1"]["kernel"])
  figures = [Figure("strength.png", "Test error and the fraction of near-zero weights against "
                    "the L1 or L2 coefficient; dashed: the unpenalised, combined and dropout "
                    "variants.")]
  strength_figure(variants, stats, os.path.join(workdir, figures[0].file))
  if first_layers:  # a run of selected variants may have none of them
    figures.append(Figure("histograms.png", "First-layer weights after training (first seed) "
                          "of the unregularised net, the strongest L1 and L2 penalties, both "
                          "together, and the stronger dropout."))
    histogram_figure(first_layers, os.path.join(workdir, figures[1].file))
  return Analysis({"weights": stats}, tuple(figures))


EXPERIMENT = Experiment(
    name="regularisation",
    **load_text(__file__).as_fields(),
    variants=(
        Variant("none", "no regularisation"),
        *(Variant(f"l1_{v:g}", f"L1 {v:g}", {"loss.l1": v}, family="L1", coords={"strength": v})
          for v in L1),
        *(Variant(f"l2_{v:g}", f"L2 {v:g}", {"loss.l2": v}, family="L2", coords={"strength": v})
          for v in L2),
        Variant("l1_l2", f"L1 {BOTH['loss.l1']:g} + L2 {BOTH['loss.l2']:g}", dict(BOTH)),
        *(Variant(f"dropout_{p:g}", f"dropout {p:g}", {"model.dropout": p})
          for p in DROPOUT),
    ),
    epochs=12,
    reference="none",
    analyse=analyse,
    summarise=summarise,
    overrides={"model.name": "mlp_1000", "augment.name": "none", "optimizer.name": "momentum",
               "optimizer.momentum": 0.9, "optimizer.learning_rate": 0.1},
)
