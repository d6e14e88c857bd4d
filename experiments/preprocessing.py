"""Preprocessing of the input images: raw [0, 1] pixels, standardisation,
per-image normalisation, PCA and ZCA whitening, and deslanting, in an MLP and
in the lecture's ConvNet.

  python experiments/preprocessing.py --workdir=W [--seeds=3] [--quick]

Time (2-core CPU, defaults): the ConvNet takes about 6 s per epoch plus
about 1 s of validation, the 28x28-300-100-10 MLP about 1 s plus 0.3 s; each
run adds about 8 s. Whitening adds one 784 x 784 matrix product per image
(about 0.6 M multiply-adds: +30% for the ConvNet, x3 for the MLP) and a
2-second fit. 6 preprocessings x 2 networks x 3 seeds x 6 epochs:
18 x (6 x 7 + 8) + 18 x (6 x 1.3 + 8) + whitening (2 x 3 x 6 x (2 + 2))
= 900 + 285 + 145 s, about 22 minutes (measured alone: 22.9).
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # run as a script: make the repository root importable
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from typing import Any, Mapping  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402

from convnets.data import MNIST  # noqa: E402
from convnets.data.gallery import save_gallery  # noqa: E402
from convnets.data.preprocessing import fit_preprocessor  # noqa: E402
from convnets.experiment import Analysis, Experiment, Figure, Variant, families  # noqa: E402

PREPROCESSINGS = {
    "scale": "raw pixels in [0, 1]",
    "standardise": "standardised (training mean and std)",
    "per_image": "per-image normalisation",
    "pca": "PCA whitening",
    "zca": "ZCA whitening",
    "deslant_scale": "deslanted",
}
NETWORKS = {"MLP": {"model": "mlp_300_100"}, "ConvNet": {"model": "convnet"}}
EXAMPLES = 10  # digits shown per row of the inputs figure


def preprocessing(record: Mapping[str, Any]) -> str:
  return PREPROCESSINGS[record["overrides"]["preprocess"]]


def inputs_figure(data: MNIST, names: list[str], path: str) -> None:
  """The first training digit of each class as each preprocessing presents it
  to the network, every preprocessor fitted to ``data.train`` as in training."""
  first = [int(np.flatnonzero(data.train.labels == d)[0]) for d in range(EXAMPLES)]
  images = data.train.images[first]
  rows = [(PREPROCESSINGS[name],
           np.asarray(jax.jit(fit_preprocessor(name, data.train.images))(images))[..., 0])
          for name in names]
  save_gallery(rows, data.train.labels[first], path, "Network inputs after preprocessing")


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """The test errors as a preprocessing x network table, each network's
  learning curves, and the inputs each preprocessing produces."""
  variants = results["variants"]
  names = list(dict.fromkeys(v["overrides"]["preprocess"] for v in variants))
  inputs = Figure("inputs.png", "One training digit per class under each preprocessing, as "
                  "the network receives it (each image on its own grey scale). PCA-whitened "
                  "inputs are coefficients of principal components laid out row by row, not "
                  "an image.")
  inputs_figure(data, names, os.path.join(workdir, inputs.file))
  markdown = families.section(
      "Preprocessing against network", variants, preprocessing, "preprocessing",
      "PCA whitening keeps every component, so for the MLP it differs from ZCA only by a "
      "rotation of the input space, which a fully connected first layer can absorb; for the "
      "ConvNet it destroys the neighbourhoods that local receptive fields rely on.")
  markdown += "\n\n" + families.findings(
      variants, preprocessing, PREPROCESSINGS["scale"],
      f"longer training than {variants[0]['epochs']} epochs (the learning curves say whether the "
      "ranking was still changing), other whitening strengths ε, or networks other than these "
      "two.")
  figures = (*families.curves(variants, workdir, "Preprocessing"), inputs)
  return Analysis({}, markdown, figures)


EXPERIMENT = Experiment(
    name="preprocessing",
    title="Preprocessing the input images for an MLP and a ConvNet",
    question=(
        "How much does the preprocessing of the input images matter for an MLP and for the "
        "lecture's ConvNet: raw pixels in [0, 1], standardisation by the training set's mean "
        "and standard deviation, per-image normalisation, PCA whitening, ZCA whitening, or "
        "deslanting? Does whitening help a network whose first layer is fully connected but "
        "hurt one whose first layer is convolutional?"),
    motivation=(
        "Preprocessing of the input data is one of the coursework's suggested topics. Inputs "
        "with zero mean, equal variances and no correlations condition gradient descent best "
        "(LeCun, Bottou, Orr & Müller 1998, \"Efficient BackProp\", Section 4.3), which is what "
        "standardisation does per pixel set and whitening does fully. Whitening is fitted to "
        "the training images only. PCA whitening expresses an image in principal components, "
        "so its 'pixels' no longer have neighbours; ZCA rotates back into pixel space and "
        "keeps the image layout. Deslanting (LeCun et al. 1998's [deslant] entries) removes "
        "one nuisance variation before the network sees the digit, which matters more to "
        "a network without built-in invariances."),
    method=(
        "The same two networks for every preprocessing: the MLP 28x28-300-100-10 "
        "(`mlp_300_100`) and the lecture's simple ConvNet. Raw: pixels / 255. Standardised: "
        "(pixel - 0.1310) / 0.3086, the 50,000 training images' mean and std. Per-image: "
        "each image minus its own mean, divided by its own std. Whitening: the 784 x 784 "
        "covariance C = U diag(λ) U^T of the training images (pixels in [0, 1]) is computed "
        "once, on the host, in float64; PCA maps an image x to diag(λ + ε)^(-1/2) U^T (x - μ), "
        "ZCA to U diag(λ + ε)^(-1/2) U^T (x - μ), with ε = 0.1 (MNIST's leading eigenvalue is "
        "5.2; 69 components exceed 0.1, and 75 border pixels have no variance at all), laid "
        "out as a 28x28 image again; the matrix product runs on the device inside each step. "
        "Deslanted: each digit sheared so that its principal axis is vertical, by its second "
        "moments, then pixels in [0, 1]. The random shifts of the shared settings are applied "
        "to the raw images before preprocessing; deslanting also moves each digit's centre of "
        "mass to the centre of the image, so it undoes those shifts (its networks see "
        "centred digits only). 6 epochs per run rather than the default 12, "
        "so that 12 variants x 3 seeds fit the 30-minute budget on a 2-core CPU."),
    variants=tuple(
        Variant(f"{network.lower()}_{name}", f"{network}, {label}",
                {**overrides, "preprocess": name}, family=network)
        for network, overrides in NETWORKS.items() for name, label in PREPROCESSINGS.items()),
    epochs=6,
    analyse=analyse,
)


if __name__ == "__main__":
  from experiments import cli
  cli.main(EXPERIMENT.name)
