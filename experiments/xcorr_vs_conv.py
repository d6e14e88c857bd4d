"""Cross-correlation versus convolution in the lecture's simple ConvNet.

Lecture 7 ("Convolutional Layer"): deep learning's convolutional layers
compute a cross-correlation ``w (x) x``; signal processing's convolution
``v * x`` is the same with the kernel flipped, and "the network learns the
kernel appropriate to its orientation", so either can be used. Tested here
statistically (train both) and exactly (flip a trained network's kernels).

  python experiments/xcorr_vs_conv.py --workdir=W [--seeds=3] [--quick]
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # run as a script: make the repository root importable
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from typing import Any, Mapping  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402

from convnets import models, ops  # noqa: E402
from convnets.data import MNIST  # noqa: E402
from convnets.experiment import Analysis, Experiment, Figure, Variant  # noqa: E402
from convnets.experiment import plots  # noqa: E402
from convnets.experiment.trained import load_run, logits  # noqa: E402


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


def _trained_verdict(results: Mapping[str, Any]) -> str:
  """What the seeds say about the lecture's claim that training does not care."""
  comparison = results["comparisons"].get("conv")
  if comparison is None or comparison["p"] is None:
    return ("whether training finds equally good weights in either needs both variants and "
            "two or more seeds each.")
  if comparison["significant"]:
    return (f"and trained from the same seeds the two differ beyond seed noise (p = "
            f"{comparison['p']:.3g}), against the lecture's claim; with three seeds and "
            "several experiments, a false alarm is possible, so rerun with more seeds.")
  return (f"trained from the same seeds they reach test errors within seed noise of each other "
          f"(p = {comparison['p']:.3g}), as the lecture claims: the network learns the kernel "
          "appropriate to its orientation.")


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """Flip the trained cross-correlation network's kernels into a convolution
  network and compare both on the test set; draw both variants' kernels."""
  names = {v["name"] for v in results["variants"]}
  if "xcorr" not in names:
    return Analysis({}, "")
  xcorr_dir = _first_run(results, "xcorr")
  trained = load_run(os.path.join(workdir, xcorr_dir), data)
  kwargs = dict(trained.config.model_kwargs, conv_mode="conv")
  conv_model = models.create(trained.config.model, **kwargs)
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
  n = numbers["test_examples"]
  markdown = "\n".join([
      "### Exact equivalence: flipping a trained network's kernels",
      "",
      f"The cross-correlation network of `{xcorr_dir}` was loaded from its "
      "`variables.msgpack`; each convolution kernel was flipped in both spatial axes "
      "(`convnets.ops.flip_kernel`) and given, with every other variable unchanged, to a "
      "`conv_mode=\"conv\"` network. On the "
      f"{n:,} test images the largest absolute difference between the two networks' logits is "
      f"**{numbers['max_abs_logit_difference']:.3g}** (logits reach "
      f"{numbers['max_abs_logit']:.3g} in magnitude), and "
      f"**{numbers['identical_predictions']:,} of {n:,}** predictions are identical, so both "
      f"have test error {100 * numbers['xcorr_test_error']:.2f}% "
      f"(flipped convolution: {100 * numbers['flipped_conv_test_error']:.2f}%). A convolution "
      "network with the flipped kernels is the same function as the cross-correlation "
      "network: `conv(x, flip(w)) = xcorr(x, w)`.",
      "",
      "The flip is what makes them equal: given the *unflipped* kernels, the convolution "
      f"network agrees on only {numbers['unflipped_identical_predictions']:,} of {n:,} "
      f"predictions (test error {100 * numbers['unflipped_conv_test_error']:.2f}%). A set "
      "of weights is tied to one orientation; " + _trained_verdict(results),
  ])
  figures = ()
  if "conv" in names:
    conv = load_run(os.path.join(workdir, _first_run(results, "conv")), data)
    learned, conv_learned = (first_layer_kernels(v) for v in (trained.variables, conv.variables))
    numbers["kernel_correlation_same"] = same = pearson(conv_learned, learned)
    numbers["kernel_correlation_flipped"] = flipped_r = pearson(conv_learned,
                                                                ops.flip_kernel(learned))
    if same > max(0.5, flipped_r):
      reading = ("both kept much of their common start, each in its own orientation: the same "
                 "numbers act as mirror-image feature detectors in the two networks, and the "
                 "layers above adapt to that")
    elif flipped_r > max(0.5, same):
      reading = "the convolution network learned the cross-correlation network's detectors"
    else:
      reading = "the two networks learned different detectors"
    markdown += "\n\n" + (
        "Seed k starts both networks from the same kernel values. After training, the "
        "convolution network's first-layer kernels correlate "
        f"r = {same:.2f} with the cross-correlation network's as they are and "
        f"r = {flipped_r:.2f} with them flipped (Pearson, over all {learned.size} weights): "
        f"{reading} (figure: kernels.png).")
    figure = Figure("kernels.png", "First-layer kernels (seed "
                    f"{results['settings']['seeds'][0]}): cross-correlation, the same flipped, "
                    "and convolution's own; blue negative, red positive.")
    plots.kernels([("cross-correlation, learned", learned),
                   ("cross-correlation, flipped", ops.flip_kernel(learned)),
                   ("convolution, learned", conv_learned)],
                  os.path.join(workdir, figure.file), "Learned first-layer kernels (5x5)")
    figures = (figure,)
  return Analysis(numbers, markdown, figures)


EXPERIMENT = Experiment(
    name="xcorr_vs_conv",
    title="Cross-correlation versus convolution in the simple ConvNet",
    question=(
        "Does it matter whether the convolutional layer of a ConvNet computes a "
        "cross-correlation (the kernel slides over the image as it is, what deep learning calls "
        "convolution) or a true convolution (the kernel flipped horizontally and vertically)? "
        "Do the two reach the same test error, and are the trained networks interchangeable?"),
    motivation=(
        "Lecture 7 writes the feature map as a cross-correlation `h = sigmoid(w ⊗ x + b)` and "
        "notes that signal processing's convolution `v * x` equals it with `v` the flipped `w`. "
        "It claims the difference does not matter for learning, because the network learns the "
        "kernel in whichever orientation the implementation uses, so an efficient "
        "implementation of either is fine. The claim has two parts, both testable: trained "
        "from scratch, the two layer types give the same accuracy; and every cross-correlation "
        "network is exactly a convolution network with flipped kernels."),
    method=(
        "The lecture's simple ConvNet: 20 feature maps of 5x5 on the 28x28 image (24x24 each, "
        "no padding, stride 1), 2x2 max-pooling (12x12), ReLU, 100 fully connected ReLU "
        "hidden units and 10 softmax outputs: 289,630 weights. Variant `xcorr` computes "
        "`h[i, j] = Σ_kl w[k, l] x[i + k, j + l]`, variant `conv` computes "
        "`Σ_kl v[k, l] x[i - k, j - l]` (implemented as cross-correlation with the flipped "
        "kernel). Seed k gives both variants the same initial weight values and the same data "
        "order, so they differ only in the orientation those weights are applied in. The "
        "default 12 epochs of the main job are kept (the two variants fit the time budget). "
        "Exactness is checked on a trained network, as described under Discussion."),
    variants=(
        Variant("xcorr", "cross-correlation", {"model_kwargs.conv_mode": "xcorr"}),
        Variant("conv", "convolution", {"model_kwargs.conv_mode": "conv"}),
    ),
    epochs=12,
    reference="xcorr",
    analyse=analyse,
)


if __name__ == "__main__":
  from experiments import cli
  cli.main(EXPERIMENT.name)
