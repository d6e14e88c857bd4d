"""Data augmentation for the lecture's ConvNet: none, random shifts, affine
distortions, elastic distortions, and both, drawn afresh for every batch on
the device.

  python run_experiment.py --experiment=augmentation --workdir=W [--seeds=3] [--quick]
"""

from __future__ import annotations

import os

from typing import Any, Mapping

import jax
import numpy as np
from ml_collections import ConfigDict

from convnets.data import MNIST
from convnets.data.augment import make_augmentation
from convnets.data.gallery import save_gallery
from convnets.experiment import Analysis, Experiment, Figure, Variant
from convnets.configs import configure
from convnets.experiment.spec import load_text
from convnets.experiment.stats import finished
from convnets.experiment.values import Finding, Grid

AUGMENTATIONS = {
    "none": "none",
    "shift": "random shifts (±2 pixels)",
    "affine": "affine distortions",
    "elastic": "elastic distortions",
    "affine+elastic": "affine + elastic",
}
EXAMPLES = 10  # digits in the gallery


def gallery(results: Mapping[str, Any], data: MNIST, path: str) -> None:
  """The first training example of each class (named), and one random draw of every
  variant's augmentation of it (its own config, the same key for all)."""
  first = [int(np.flatnonzero(data.train.labels == d)[0]) for d in range(EXAMPLES)]
  images = data.train.images[first]
  shared = ConfigDict(results["settings"]["config"])
  rows = []
  for variant in results["variants"]:
    augment = make_augmentation(configure(shared, variant["overrides"]).augment)
    rows.append((variant["label"], np.asarray(augment(jax.random.key(0), images))))
  save_gallery(rows, data.train.labels[first], path, "One random draw of each augmentation",
               class_names=data.class_names)


def summarise(results: Mapping[str, Any]) -> list[Finding]:
  """Per variant, the training error of the last epoch (on augmented digits)
  against the validation error after it: how far each augmentation closes
  the generalisation gap."""
  variants = results["variants"]
  rows = []
  for v in variants:
    train = [1 - r["train_accuracy"] for r in finished(v)]
    valid = [r["valid_error"] for r in finished(v)]
    rows.append([train, valid, [b - a for a, b in zip(train, valid)]])
  return [Grid("generalisation_gap", "Training error against validation error",
               [v["label"] for v in variants],
               ["training error, last epoch", "validation error", "validation − training"],
               rows, units={"validation − training": "points"}, corner="augmentation",
               note="Means ± std over seeds. The training error is measured on the augmented "
               "batches while the last epoch trains (so on harder, distorted digits, with the "
               "weights still changing), the validation error on the clean held-out digits "
               "after it; augmentation that regularises raises the first and lowers the "
               "second, and a negative gap means the distorted training digits are harder.")]


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """A gallery of augmented examples."""
  figure = Figure("augmented.png", "One random draw of each augmentation of the first "
                  f"training {data.noun} of each class.")
  gallery(results, data, os.path.join(workdir, figure.file))
  return Analysis({}, (figure,))


EXPERIMENT = Experiment(
    name="augmentation",
    **load_text(__file__).as_fields(),
    variants=tuple(Variant(name.replace("+", "_"), label, {"augment.name": name})
                   for name, label in AUGMENTATIONS.items()),
    epochs=10,
    reference="none",
    analyse=analyse,
    summarise=summarise,
)
