"""Early stopping against fixed-length training: an MLP that overfits, trained
for a fixed 40 epochs, or stopped when its validation error has not improved
for 3 or 10 epochs (the best epoch's weights restored).

  python experiments/early_stopping.py --workdir=W [--seeds=3] [--quick]

Time (2-core CPU, defaults): the 28x28-1000-10 MLP takes about 2 s per epoch
plus 0.3 s of validation, and each run adds about 8 s. Per seed: the fixed
run 40 x 2.3 + 8 = 100 s, the early-stopped ones at most as much (in
practice about 15 and 25 epochs: 43 + 66 s). 3 seeds: at most 15 minutes,
about 11 in practice.
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
from convnets.experiment import Analysis, Experiment, Figure, Variant  # noqa: E402
from convnets.experiment.report import p_value, percent  # noqa: E402
from convnets.experiment.stats import spread, verdict  # noqa: E402

EPOCHS = 40
PATIENCES = (3, 10)
TRAIN_ERROR_FLOOR = 0.01  # percent


def mean_std(values: Mapping[str, Any], digits: int = 1) -> str:
  """``"12.3 ± 1.2"`` from :func:`convnets.experiment.stats.spread`'s dict."""
  return f"{values['mean']:.{digits}f}" + (
      "" if values["std"] is None else f" ± {values['std']:.{digits}f}")


def stopping_figure(variants: list[Mapping[str, Any]], path: str) -> None:
  """Per seed, every variant's validation error against epoch (they follow
  one trajectory until each stops), each early-stopped variant's best epoch
  marked by a star and its stopping epoch by a dashed line; the fixed run's
  training error below them."""
  seeds = [run["seed"] for run in variants[0]["runs"]]
  fig, axes = plt.subplots(1, len(seeds), figsize=(5.5 * len(seeds), 4.2), squeeze=False)
  for ax, k in zip(axes[0], range(len(seeds))):
    for i, variant in enumerate(variants):
      run = variant["runs"][k]
      colour = plt.get_cmap("tab10")(i)
      epochs = [c["epoch"] for c in run["curves"]]
      # Wider lines underneath: the variants overlap until each one stops.
      ax.plot(epochs, [100 * (1 - c["valid_accuracy"]) for c in run["curves"]], "-",
              color=colour, lw=max(3.5 - 1.2 * i, 1.0), alpha=0.8,
              label=f"{variant['label']}: validation")
      if "best_epoch" in run:
        best = run["curves"][run["best_epoch"] - 1]
        ax.plot(run["best_epoch"], 100 * (1 - best["valid_accuracy"]), "*", color=colour, ms=14,
                mec="black", label=f"{variant['label']}: best epoch {run['best_epoch']}")
        ax.axvline(run["stopped_epoch"], color=colour, ls="--", lw=1.2,
                   label=f"{variant['label']}: stopped at {run['stopped_epoch']}")
      else:
        # A log axis cannot show the zero training error an overfit MLP reaches.
        ax.plot(epochs, [max(100 * (1 - c["train_accuracy"]), TRAIN_ERROR_FLOOR)
                         for c in run["curves"]], ":", color=colour, lw=1.5,
                label=f"{variant['label']}: training (0 drawn at {TRAIN_ERROR_FLOOR}%)")
    ax.set(xlabel="epoch", ylabel="error (%)", yscale="log", title=f"seed {seeds[k]}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
  fig.suptitle("Validation error and where early stopping stopped")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def findings(variants: list[Mapping[str, Any]], comparisons: Mapping[str, Any]) -> list[str]:
  """What the runs show, in sentences built from their numbers: whether the
  fixed run's validation error turned up (overfitting visible on the
  validation set, not only as a training/validation gap), and per patience the
  epochs it saved against the test error it cost."""
  fixed, *stopped = variants
  rise = spread([100 * (max(c["valid_accuracy"] for c in run["curves"])
                        - run["curves"][-1]["valid_accuracy"]) for run in fixed["runs"]])
  lines = ["### What this shows", "",
           f"- Over {fixed['epochs']} epochs the fixed run's validation error ended "
           f"{mean_std(rise, 2)} points above its lowest value (mean over seeds), while its "
           "training error reached "
           f"{mean_std(spread([100 * (1 - run['train_accuracy']) for run in fixed['runs']]), 2)}%."
           " How much early stopping can gain is bounded by that rise."]
  for variant in stopped:
    used = spread([run["epochs"] / fixed["epochs"] for run in variant["runs"]])
    comparison = comparisons[variant["name"]]
    difference = 100 * (variant["test_error"]["mean"] - fixed["test_error"]["mean"])
    lines.append(f"- {variant['label']}: trained {100 * used['mean']:.0f}% of the fixed "
                 f"run's epochs; test error {difference:+.2f} points against it (p = "
                 f"{p_value(comparison['p'])}, {verdict(comparison)}).")
  lines.append("- Not shown: how these compare under a decaying learning rate or with "
               "augmentation, or for other networks; "
               "3 seeds cannot resolve differences much below the noise quoted above.")
  return lines


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """Epochs used and chosen per variant, and the stopping figure."""
  variants = results["variants"]
  lines = ["### Epochs used", "",
           "| variant | test error (%) | epochs trained | best epoch (restored) | "
           "training time (s) |", "|---|---:|---:|---:|---:|"]
  numbers = {}
  for variant in variants:
    runs, test = variant["runs"], variant["test_error"]
    trained = spread([run["epochs"] for run in runs])
    best = spread([run.get("best_epoch", run["epochs"]) for run in runs])
    seconds = spread([run["seconds_per_epoch"] * run["epochs"] for run in runs])
    numbers[variant["name"]] = {"epochs": trained, "best_epoch": best, "seconds": seconds}
    lines.append(f"| {variant['label']} | {percent(test['mean'], test['std'])} | "
                 f"{mean_std(trained)} | {mean_std(best)} | {mean_std(seconds, 0)} |")
  lines += ["", "Epochs trained: where training stopped (the fixed runs train all "
            f"{results['settings']['epochs']}). Best epoch: whose weights were tested (the "
            "fixed runs test their last). The training time is seconds per epoch times epochs "
            "trained, so it excludes compiling and testing."]
  lines += ["", *findings(variants, results["comparisons"])]
  figure = Figure("stopping.png", "Per seed: validation error against epoch for every "
                  "variant (one trajectory until each stops), stars at the restored best "
                  "epochs, dashed lines where training stopped; dotted: the fixed run's "
                  "training error.")
  stopping_figure(variants, os.path.join(workdir, figure.file))
  return Analysis(numbers, "\n".join(lines), (figure,))


EXPERIMENT = Experiment(
    name="early_stopping",
    title="Early stopping against fixed-length training",
    question=(
        "Does stopping training when the validation error stops improving, and keeping the "
        "best epoch's weights, give a lower test error than training an overfitting network "
        f"for a fixed {EPOCHS} epochs, and how many epochs does it save? How does the "
        "patience (3 or 10 epochs without improvement) change both?"),
    motivation=(
        "Early stopping is one of the coursework's simpler topics. A network with many more "
        "weights than needed drives its training error to zero while its validation error "
        "first falls and then stalls or rises: it overfits. Early stopping treats the number "
        "of training epochs as a hyperparameter chosen on the validation set, cheaply, within "
        "one run (Goodfellow, Bengio & Courville, Deep Learning, Section 7.8); the patience "
        "trades the risk of stopping in a temporary plateau against wasted epochs (Prechelt "
        "1998)."),
    method=(
        "The MLP 28x28-1000-10 of LeCun et al. 1998 (`mlp_1000`, ReLU, 795,010 weights), "
        "trained without augmentation and with a constant learning rate (Adam, 0.001), so "
        f"that it overfits and so that a run's trajectory does not depend on its epoch limit. "
        f"Fixed: {EPOCHS} epochs, the last epoch's weights tested. Early stopping: after each "
        "epoch the validation error (on the 10,000 held-out training digits) is compared "
        "with the best so far; a strictly lower one becomes the best and its weights are "
        "kept; after `patience` epochs without a new best, training stops and the best "
        f"weights are restored and tested (at most {EPOCHS} epochs). Seed k gives every "
        "variant the same initial weights and data order, so an early-stopped run follows "
        "the fixed run's trajectory until it stops: the figure shows where each stopped on "
        "the same curve. The test set is used once per run, on the restored weights."),
    variants=(
        Variant("fixed", "fixed length", {"early_stopping_patience": 0}),
        *(Variant(f"patience{p}", f"early stopping, patience {p}", {"early_stopping_patience": p})
          for p in PATIENCES),
    ),
    epochs=EPOCHS,
    reference="fixed",
    analyse=analyse,
    overrides={"model": "mlp_1000", "augment": "none", "schedule": "constant",
               "learning_rate": 1e-3},
)


if __name__ == "__main__":
  from experiments import cli
  cli.main(EXPERIMENT.name)
