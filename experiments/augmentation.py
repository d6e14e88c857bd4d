"""Data augmentation for the lecture's ConvNet: none, random shifts, affine
distortions, elastic distortions, and both, drawn afresh for every batch on
the device.

  python experiments/augmentation.py --workdir=W [--seeds=3] [--quick]

Time (2-core CPU, defaults): the ConvNet takes about 6 s per epoch plus about
1 s of validation, and each run adds about 8 s; the distortions cost about
0.5 s (shift), 1.5 s (affine) and 3 s (elastic) more per epoch. 5 variants x
3 seeds x 10 epochs: 3 x (78 + 83 + 93 + 108 + 108) s, about 24 minutes (measured alone: 24.7).
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # run as a script: make the repository root importable
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from typing import Any, Mapping  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402
from ml_collections import ConfigDict  # noqa: E402

from convnets.data import MNIST  # noqa: E402
from convnets.data.augment import make_augmentation  # noqa: E402
from convnets.data.gallery import save_gallery  # noqa: E402
from convnets.experiment import Analysis, Experiment, Figure, Variant  # noqa: E402
from convnets.experiment.report import p_value, percent  # noqa: E402
from convnets.experiment.runner import configure  # noqa: E402
from convnets.experiment.stats import spread, verdict  # noqa: E402

AUGMENTATIONS = {
    "none": "none",
    "shift": "random shifts (±2 pixels)",
    "affine": "affine distortions",
    "elastic": "elastic distortions",
    "affine+elastic": "affine + elastic",
}
EXAMPLES = 10  # digits in the gallery


def gallery(results: Mapping[str, Any], data: MNIST, path: str) -> None:
  """The first training digit of each class, and one random draw of every
  variant's augmentation of it (its own config, the same key for all)."""
  first = [int(np.flatnonzero(data.train.labels == d)[0]) for d in range(EXAMPLES)]
  images = data.train.images[first]
  shared = ConfigDict(results["settings"]["config"])
  rows = []
  for variant in results["variants"]:
    augment = make_augmentation(configure(shared, variant["overrides"]))
    rows.append((variant["label"], np.asarray(augment(jax.random.key(0), images))))
  save_gallery(rows, data.train.labels[first], path, "One random draw of each augmentation")


def findings(results: Mapping[str, Any], gaps: Mapping[str, float]) -> list[str]:
  """The best augmentation against none (the reference), beyond seed noise or
  not, and how far each augmentation closed the generalisation gap."""
  variants = {v["name"]: v for v in results["variants"]}
  reference = variants[results["reference"]]
  best = min(variants.values(), key=lambda v: v["test_error"]["mean"])
  lines = ["### What this shows", ""]
  if best is not reference:
    comparison = results["comparisons"][best["name"]]
    lines.append(f"- The lowest mean test error is with {best['label']}, "
                 f"{percent(best['test_error']['mean'], best['test_error']['std'])}% against "
                 f"{percent(reference['test_error']['mean'], reference['test_error']['std'])}% "
                 f"without augmentation (p = {p_value(comparison['p'])}, {verdict(comparison)}).")
  else:
    lines.append("- No augmentation had a lower mean test error than none.")
  lines.append("- Gap between validation and training error, without augmentation "
               f"{100 * gaps[reference['name']]:+.2f} points; with " + ", ".join(
                   f"{v['label']} {100 * gaps[name]:+.2f}" for name, v in variants.items()
                   if name != reference["name"]) + " (a negative gap: the distorted training "
               "digits are harder than the clean validation ones).")
  lines.append(f"- Not shown: the gains after more than {reference['epochs']} epochs (the "
               "curves say whether the distorted runs were still improving), other distortion "
               "strengths, or for networks other than the simple ConvNet.")
  return lines


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """Training against validation error (how much each augmentation closes
  the gap), and a gallery of augmented digits."""
  lines = ["### Training error against validation error", "",
           "| augmentation | training error, last epoch (%) | validation error (%) | gap "
           "(points) |", "|---|---:|---:|---:|"]
  gaps = {}
  for variant in results["variants"]:
    train = spread([1 - r["train_accuracy"] for r in variant["runs"]])
    valid = variant["valid_error"]
    gaps[variant["name"]] = valid["mean"] - train["mean"]
    lines.append(f"| {variant['label']} | {percent(train['mean'], train['std'])} | "
                 f"{percent(valid['mean'], valid['std'])} | "
                 f"{100 * gaps[variant['name']]:+.2f} |")
  lines += ["", "The training error is measured on the augmented batches while the last epoch "
            "trains (so on harder, distorted digits, with the weights still changing); the "
            "validation error on the clean held-out digits after it. Augmentation that "
            "regularises raises the first and lowers the second."]
  lines += ["", *findings(results, gaps)]
  figure = Figure("augmented.png", "One random draw of each augmentation of the first "
                  "training digit of each class.")
  gallery(results, data, os.path.join(workdir, figure.file))
  return Analysis({"generalisation_gap": gaps}, "\n".join(lines), (figure,))


EXPERIMENT = Experiment(
    name="augmentation",
    title="Data augmentation for the simple ConvNet",
    question=(
        "Does enlarging the training set with distorted copies of the digits lower the simple "
        "ConvNet's test error, and which distortions help most: random whole-pixel shifts, "
        "random affine distortions, elastic distortions, or affine and elastic together?"),
    motivation=(
        "Data augmentation is one of the coursework's more complex topics. LeCun et al. 1998 "
        "trained on artificially distorted digits (the [dist] entries of the lecture's MNIST "
        "table: LeNet-5 from 0.95% to 0.8%), with random planar affine transformations; "
        "Simard, Steinkraus & Platt 2003 reached 0.4% with a simple ConvNet and elastic "
        "distortions, which imitate the oscillations of the hand. A ConvNet's weight sharing "
        "and pooling give some invariance to small shifts already; distortions teach "
        "invariances the architecture does not have, at the price of a harder training set."),
    method=(
        "The lecture's simple ConvNet (20 5x5 maps, 2x2 max-pooling, 100 hidden units), trained "
        "on a fresh random distortion of every training digit in every batch, drawn on the "
        "device from the step's key; validation and test digits are never distorted. Shifts: "
        "whole-pixel translations uniform in ±2 pixels per axis. Affine: translation ±2 "
        "pixels, scaling by 1 ± 0.1, squeezing (width x (1 + q), height / (1 + q)) with "
        "q in ±0.1 and horizontal shear ±0.2, LeCun et al.'s four kinds of distortion. Elastic: "
        "Simard et al.'s displacement fields, uniform noise smoothed by a Gaussian of σ = 4 "
        "pixels and scaled by α = 34. Both: the elastic field, then the affine map, in one "
        "bilinear resampling. 10 epochs per run rather than the default 12, so that 5 variants "
        "x 3 seeds fit the 30-minute budget on a 2-core CPU; distortions usually need more "
        "epochs to pay off, so the curves show whether they were still gaining."),
    variants=tuple(Variant(name.replace("+", "_"), label, {"augment": name})
                   for name, label in AUGMENTATIONS.items()),
    epochs=10,
    reference="none",
    analyse=analyse,
)


if __name__ == "__main__":
  from experiments import cli
  cli.main(EXPERIMENT.name)
