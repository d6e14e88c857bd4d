"""Cross-correlation versus convolution in the lecture's simple ConvNet.

Lecture 7 ("Convolutional Layer"): deep learning's convolutional layers
compute a cross-correlation ``w (x) x``; signal processing's convolution
``v * x`` is the same with the kernel flipped, and "the network learns the
kernel appropriate to its orientation", so either can be used. Tested here
statistically (train both) and exactly (flip a trained network's kernels).

  python run_experiment.py --experiment=xcorr_vs_conv --workdir=W [--seeds=3] [--quick]
"""

from __future__ import annotations

import os

from typing import Any, Mapping

import jax
import numpy as np

from convnets import models, ops, pictures
from convnets.data import MNIST
from convnets.experiment import Analysis, Experiment, Figure, Variant
from convnets.experiment.spec import load_text
from convnets.experiment.values import Finding, Value
from convnets.experiment.trained import load_run, logits


def flip_conv_kernels(variables: Any) -> Any:
  """``variables`` with every convolution kernel (the 4-D ``kernel`` leaves,
  HWIO) flipped in both spatial axes; dense kernels (2-D) and biases kept."""
  def flip(path, leaf):
    return ops.flip_kernel(leaf) if path[-1].key == "kernel" and leaf.ndim == 4 else leaf
  return jax.tree_util.tree_map_with_path(flip, variables)


def first_layer_kernels(variables: Mapping[str, Any]) -> np.ndarray:
  """The first convolution's kernels as ``(kh, kw, maps)`` (its one input map dropped)."""
  return np.asarray(variables["params"]["conv1"]["conv"]["kernel"])[:, :, 0, :]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
  """Pearson correlation of two arrays' elements."""
  return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def _first_run(results: Mapping[str, Any], variant: str) -> str:
  record = next(v for v in results["variants"] if v["name"] == variant)
  return record["runs"][0]["workdir"]


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """Flip the trained cross-correlation network's kernels into a convolution
  network and compare both on the test set; draw both variants' kernels."""
  names = {v["name"] for v in results["variants"]}
  if "xcorr" not in names:
    return Analysis({})
  xcorr_dir = _first_run(results, "xcorr")
  trained = load_run(os.path.join(workdir, xcorr_dir))
  conv_model = models.build({**trained.config.model.to_dict(), "conv_mode": "conv"})
  preprocess = trained.preprocess
  images, labels = data.test.images, data.test.labels
  reference = logits(trained.model, trained.variables, images, preprocess)
  flipped = logits(conv_model, flip_conv_kernels(trained.variables), images, preprocess)
  unflipped = logits(conv_model, trained.variables, images, preprocess)
  predictions = reference.argmax(-1)
  numbers = {
      "run": xcorr_dir,
      "test_examples": int(len(labels)),
      "max_abs_logit_difference": float(np.abs(reference - flipped).max()),
      "max_abs_logit": float(np.abs(reference).max()),
      "identical_predictions": int((flipped.argmax(-1) == predictions).sum()),
      "xcorr_test_error": float((predictions != labels).mean()),
      "flipped_conv_test_error": float((flipped.argmax(-1) != labels).mean()),
      "unflipped_identical_predictions": int((unflipped.argmax(-1) == predictions).sum()),
      "unflipped_conv_test_error": float((unflipped.argmax(-1) != labels).mean()),
  }
  figures = ()
  if "conv" in names:
    conv = load_run(os.path.join(workdir, _first_run(results, "conv")))
    learned, conv_learned = (first_layer_kernels(v) for v in (trained.variables, conv.variables))
    numbers["kernel_correlation_same"] = pearson(conv_learned, learned)
    numbers["kernel_correlation_flipped"] = pearson(conv_learned, ops.flip_kernel(learned))
    figure = Figure("kernels.png", "First-layer kernels (seed "
                    f"{results['settings']['seeds'][0]}): cross-correlation, the same flipped, "
                    "and convolution's own; blue negative, red positive.")
    pictures.draw_kernels(sets=[("cross-correlation, learned", learned),
                                ("cross-correlation, flipped", ops.flip_kernel(learned)),
                                ("convolution, learned", conv_learned)],
                          path=os.path.join(workdir, figure.file),
                          title="Learned first-layer kernels (5x5)")
    figures = (figure,)
  return Analysis(numbers, figures)


# What summarise reports of the stored analysis: key, description, unit.
FLIP_CHECK = (
    ("max_abs_logit_difference", "largest absolute difference of logits, the "
     "cross-correlation network against the convolution network given its flipped kernels",
     ""),
    ("max_abs_logit", "largest absolute logit of the cross-correlation network (the scale)", ""),
    ("identical_predictions", "predictions identical with the flipped kernels", ""),
    ("xcorr_test_error", "test error of the cross-correlation network checked (first seed)",
     "%"),
    ("flipped_conv_test_error", "test error of the convolution network, flipped kernels", "%"),
    ("unflipped_identical_predictions", "predictions identical with the kernels unflipped", ""),
    ("unflipped_conv_test_error", "test error of the convolution network, kernels unflipped", "%"),
    ("kernel_correlation_same", "Pearson r, trained first-layer kernels of the convolution "
     "network against the cross-correlation network's, as they are", ""),
    ("kernel_correlation_flipped", "Pearson r, the same against the cross-correlation "
     "network's flipped", ""),
)


def summarise(results: Mapping[str, Any]) -> list[Finding]:
  """The exact-equivalence check on one trained network and the kernel
  correlations, as :func:`analyse` stored them."""
  analysis = results["analysis"]
  if not analysis:
    return []
  return [Value(key, description + (f" (of {analysis['test_examples']:,} test images)"
                                    if key.endswith("predictions") else ""), analysis[key], unit)
          for key, description, unit in FLIP_CHECK if key in analysis]


EXPERIMENT = Experiment(
    name="xcorr_vs_conv",
    **load_text(__file__).as_fields(),
    variants=(
        Variant("xcorr", "cross-correlation", {"model.conv_mode": "xcorr"}),
        Variant("conv", "convolution", {"model.conv_mode": "conv"}),
    ),
    epochs=12,
    reference="xcorr",
    analyse=analyse,
    summarise=summarise,
)
