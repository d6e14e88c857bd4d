"""Early stopping against fixed-length training: an MLP that overfits, trained
for a fixed 40 epochs, or stopped when its validation error has not improved
for 3 or 10 epochs (the best epoch's weights restored).

  python run_experiment.py --experiment=early_stopping --workdir=W [--seeds=3] [--quick]
"""

from __future__ import annotations

import os

from typing import Any, Mapping

from convnets import style
from convnets.data import MNIST
from convnets.experiment import Analysis, Experiment, Figure, Variant
from convnets.experiment.spec import load_text
from convnets.experiment.stats import finished
from convnets.experiment.values import Finding, Grid, Value

EPOCHS = 40
PATIENCES = (3, 10)
TRAIN_ERROR_FLOOR = 0.01  # percent


def stopping_figure(variants: list[Mapping[str, Any]], path: str) -> None:
  """Per seed, every variant's validation error against epoch (they follow
  one trajectory until each stops), each early-stopped variant's best epoch
  marked by a star and its stopping epoch by a dashed line; the fixed run's
  training error below them."""
  seeds = [run["seed"] for run in variants[0]["runs"]]
  fig, axes = style.figure(cols=len(seeds), width=5.0 * len(seeds), height=5.2, sharey=True)
  for ax, k in zip(axes[0], range(len(seeds))):
    for i, variant in enumerate(variants):
      run = variant["runs"][k]
      colour = style.colour(i)
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
    ax.set(xlabel="epoch", title=f"seed {seeds[k]}")
    style.log_axis(ax, which="y", label="error (%)")
    if k:
      ax.set_ylabel("")  # shared with the first panel
    # Below its panel, off the data: each seed stopped at its own epochs.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1, fontsize=7)
  fig.suptitle("Validation error and where early stopping stopped")
  style.save(fig, path)


def summarise(results: Mapping[str, Any]) -> list[Finding]:
  """Per variant, the epochs trained and restored and the training time;
  whether the fixed run's validation error turned up (overfitting visible on
  the validation set, which bounds what early stopping can gain)."""
  variants = results["variants"]
  fixed = next(v for v in variants if v["name"] == results["reference"])
  per_variant = Grid(
      "epochs", "Epochs used", [v["label"] for v in variants],
      ["epochs trained", "share of the fixed run's epochs", "best epoch (restored)",
       "training time (s)"],
      [[[r["epochs"] for r in finished(v)],
        [r["epochs"] / fixed["epochs"] for r in finished(v)],
        [r.get("best_epoch", r["epochs"]) for r in finished(v)],
        [r["seconds_per_epoch"] * r["epochs"] for r in finished(v)]] for v in variants],
      units={"epochs trained": "", "share of the fixed run's epochs": "%",
             "best epoch (restored)": "", "training time (s)": ""},
      corner="variant", note="Means ± std over seeds. Best epoch: whose weights were tested "
      "(the fixed runs test their last). Training time: seconds per epoch times epochs "
      "trained, without compiling and testing.")
  runs = finished(fixed)
  return [per_variant,
          Value("valid_rise", f"{fixed['label']}: final validation error above its lowest, "
                "per seed", [max(c["valid_accuracy"] for c in r["curves"])
                             - r["curves"][-1]["valid_accuracy"] for r in runs], "points"),
          Value("train_error", f"{fixed['label']}: training error in the last epoch, per seed",
                [1 - r["train_accuracy"] for r in runs], "%")]


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """The stopping figure."""
  figure = Figure("stopping.png", "Per seed: validation error against epoch for every "
                  "variant (one trajectory until each stops), stars at the restored best "
                  "epochs, dashed lines where training stopped; dotted: the fixed run's "
                  "training error.")
  stopping_figure(results["variants"], os.path.join(workdir, figure.file))
  return Analysis({}, (figure,))


EXPERIMENT = Experiment(
    name="early_stopping",
    **load_text(__file__).as_fields(),
    variants=(
        Variant("fixed", "fixed length", {"early_stopping_patience": 0}),
        *(Variant(f"patience{p}", f"early stopping, patience {p}", {"early_stopping_patience": p})
          for p in PATIENCES),
    ),
    epochs=EPOCHS,
    reference="fixed",
    analyse=analyse,
    summarise=summarise,
    overrides={"model.name": "mlp_1000", "augment.name": "none", "optimizer.schedule": "constant",
               "optimizer.learning_rate": 1e-3},
)
