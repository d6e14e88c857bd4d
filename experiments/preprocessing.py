"""Preprocessing of the input images: raw [0, 1] pixels, standardisation,
per-image normalisation, PCA and ZCA whitening, and deslanting, in an MLP and
in the lecture's ConvNet.

  python run_experiment.py --experiment=preprocessing --workdir=W [--seeds=3] [--quick]
Whitening adds one 784 x 784 matrix product per image (about 0.6 million
multiply-adds) to every step.
"""

from __future__ import annotations

import os

from typing import Any, Mapping

import jax
import numpy as np

from convnets.data import MNIST
from convnets.data.gallery import save_gallery
from convnets.data.preprocessing import fit_preprocessor
from convnets.experiment import Analysis, Experiment, Figure, Variant, families
from convnets.experiment.spec import load_text
from convnets.experiment.values import Finding, setting

PREPROCESSINGS = {
    "scale": "raw pixels in [0, 1]",
    "standardise": "standardised (training mean and std)",
    "per_image": "per-image normalisation",
    "pca": "PCA whitening",
    "zca": "ZCA whitening",
    "deslant_scale": "deslanted",
}
NETWORKS = {"MLP": {"model.name": "mlp_300_100"}, "ConvNet": {"model.name": "convnet"}}
EXAMPLES = 10  # digits shown per row of the inputs figure


def preprocessing(record: Mapping[str, Any]) -> str:
  return PREPROCESSINGS[setting(record, "preprocess")]


def inputs_figure(data: MNIST, names: list[str], path: str) -> None:
  """The first training digit of each class as each preprocessing presents it
  to the network, every preprocessor fitted to ``data.train`` as in training."""
  first = [int(np.flatnonzero(data.train.labels == d)[0]) for d in range(EXAMPLES)]
  images = data.train.images[first]
  rows = [(PREPROCESSINGS[name],
           np.asarray(jax.jit(fit_preprocessor(name, data.train.images))(images))[..., 0])
          for name in names]
  save_gallery(rows, data.train.labels[first], path, "Network inputs after preprocessing")


def summarise(results: Mapping[str, Any]) -> list[Finding]:
  """The test errors as a preprocessing x network grid, and within each
  network every preprocessing against raw pixels."""
  variants = results["variants"]
  return [families.grid(variants, preprocessing, "preprocessing"),
          *families.comparisons(variants, preprocessing, PREPROCESSINGS["scale"])]


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """Each network's learning curves, and the inputs each preprocessing produces."""
  variants = results["variants"]
  names = list(dict.fromkeys(setting(v, "preprocess") for v in variants))
  inputs = Figure("inputs.png", "One training digit per class under each preprocessing, as "
                  "the network receives it (each image on its own grey scale). PCA-whitened "
                  "inputs are coefficients of principal components laid out row by row, not "
                  "an image.")
  inputs_figure(data, names, os.path.join(workdir, inputs.file))
  return Analysis({}, (*families.curves(variants, workdir, "Preprocessing"), inputs))


EXPERIMENT = Experiment(
    name="preprocessing",
    **load_text(__file__).as_fields(),
    variants=tuple(
        Variant(f"{network.lower()}_{name}", f"{network}, {label}",
                {**overrides, "data.preprocess": name}, family=network)
        for network, overrides in NETWORKS.items() for name, label in PREPROCESSINGS.items()),
    epochs=6,
    analyse=analyse,
    summarise=summarise,
)
