"""The search for the ``best`` configuration: single changes to it (and one
pair of them) that might lower its test error or its cost, chosen by
validation error.

  python run_experiment.py --experiment=best_search --workdir=W [--seeds=3] [--variants=...] [--quick]

Every candidate is ``convnets/configs/best.py`` (``SETTINGS``, 50 epochs)
with the changes its variant lists; the unchanged configuration is the
reference. The choice is the candidate with the lowest mean *validation*
error; the test error is reported, not used to choose.

Meant for an accelerator: on a 2-core CPU a single 50-epoch run of the
configuration takes more than an hour (``results/best/``), so the search
would take more than a day there (split it with ``--variants`` and
``--resume``); ``results/best_search/cpu_kernel3/`` is one candidate run on
the CPU.
"""

from __future__ import annotations

from typing import Any, Mapping

from convnets.configs import best
from convnets.experiment import Experiment, Trend, Variant
from convnets.experiment.spec import load_text
from convnets.experiment.stats import per_seed
from convnets.experiment.values import Finding, Grid, Value

# The target for the best single model: mean test error over 3 seeds.
TARGET_ERROR = 0.004

CANDIDATES = (
    Variant("chosen", "best.py unchanged"),
    Variant("label_smoothing", "label smoothing 0.1", {"loss.label_smoothing": 0.1}),
    Variant("rotation", "affine + rotation ±10°", {"augment.affine.rotation_degrees": 10.0}),
    Variant("smoothing_rotation", "label smoothing 0.1 + rotation ±10°",
            {"loss.label_smoothing": 0.1, "augment.affine.rotation_degrees": 10.0}),
    Variant("dropout05", "dropout 0.5", {"model.dropout": 0.5}),
    Variant("maps_32_48", "32-48 maps (cheaper)", {"model.conv_features": (32, 48)}),
    Variant("kernel3", "3x3 kernels (cheaper)", {"model.kernel_size": 3}),
    Variant("epochs40", "40 epochs (cheaper)", {"epochs": 40}),
)


def by_validation(results: Mapping[str, Any]) -> list[Mapping[str, Any]]:
  """The candidates by mean validation error, lowest (the choice) first."""
  return sorted(results["variants"], key=lambda v: v["valid_error"]["mean"])


def summarise(results: Mapping[str, Any]) -> list[Finding]:
  """The candidates by mean validation error, lowest (the choice) first,
  with their test errors and whether each meets the target; the choice's
  test error per seed."""
  ranked = by_validation(results)
  below = f"test mean below {100 * TARGET_ERROR:.1f}%"
  grid = Grid("ranking", "Candidates by validation error", [v["label"] for v in ranked],
              ["valid error", "test error", below, "multiply-adds per digit", "s/epoch"],
              [[v["valid_error"], v["test_error"],
                "yes" if v["test_error"]["mean"] < TARGET_ERROR else "no", v["connections"],
                v["seconds_per_epoch"]["mean"]] for v in ranked],
              units={"multiply-adds per digit": "", "s/epoch": ""}, corner="candidate",
              note="Ranked by mean validation error, the first row being the choice; means "
              "± std over seeds.")
  chosen = ranked[0]
  return [grid, Value("chosen_test_error", f"test error of the choice, {chosen['label']}, "
                      "per seed", per_seed(chosen), "%"),
          Value("target", "the target: a mean test error below", TARGET_ERROR, "%")]


EXPERIMENT = Experiment(
    name="best_search",
    **load_text(__file__).as_fields(),
    variants=CANDIDATES,
    epochs=best.EPOCHS,
    reference="chosen",
    trends=(Trend("seconds_per_epoch", "training seconds per epoch"),),
    summarise=summarise,
    overrides=best.SETTINGS,
)
