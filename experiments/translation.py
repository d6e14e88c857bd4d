"""Translation (and rotation) of the test digits: how much do convolution,
pooling and shift augmentation make a network's error tolerate them?

Lecture 7: shared weights make a convolutional layer's feature maps move with
the input (equivariance, ``tests/test_equivariance.py``), and pooling
"removes precise location information", giving invariance to small shifts.
Measured here: test error against shifts of the test digits for an MLP and
the simple ConvNet with max, average or no pooling, each trained with and
without random shifts, and against small rotations.

  python run_experiment.py --experiment=translation --workdir=W [--seeds=3] [--quick]
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from convnets import style
from convnets.data import MNIST, augment, geometry
from convnets.data.mnist import noun as data_noun
from convnets.experiment import Analysis, Experiment, Figure, Variant, reasked
from convnets.experiment.spec import load_text
from convnets.experiment.trained import load_run
from convnets.experiment.values import Comparison, Finding, Grid

MAX_SHIFT = 6                        # test shifts 0..MAX_SHIFT pixels
DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1))  # (dy, dx): down, up, right, left
ANGLES = (-40, -30, -20, -10, 0, 10, 20, 30, 40)  # degrees, anticlockwise positive
PROBE_SHIFT = 3                      # beyond the +-2 pixels of shift augmentation
TRAIN_EXAMPLES = 10_000              # of the 50,000: 24 runs and their sweeps fit the budget
SWEEP_EXAMPLES = 2_000               # the first test digits, each seen 33 times per run
MODELS = (("mlp", "MLP 300 hidden", {"model.name": "mlp_300"}),
          ("max", "ConvNet, max pooling", {"model.pooling": "max"}),
          ("avg", "ConvNet, average pooling", {"model.pooling": "avg"}),
          ("nopool", "ConvNet, no pooling", {"model.pooling": "none"}))
AUGMENTS = (("none", "no augmentation"), ("shift", "shift augmentation"))


def shifted(images: jax.Array, dy: int, dx: int) -> jax.Array:
  """``(N, H, W)`` images translated ``dy`` rows down and ``dx`` columns right
  (background shifted in), all at once on the device."""
  offsets = jnp.broadcast_to(jnp.array([dy, dx], jnp.int32), (images.shape[0], 2))
  return augment.shift(images, offsets, max(abs(dy), abs(dx)))


def rotated(images: jax.Array, degrees: float) -> jax.Array:
  """``(N, H, W)`` images rotated anticlockwise by ``degrees`` about their
  centre (bilinear, background outside), all at once on the device."""
  n, h, w = images.shape
  angle = math.radians(degrees)
  # Output pixel p reads the input at centre + R(-angle) (p - centre); rows point down.
  inverse = jnp.array([[math.cos(angle), math.sin(angle)],
                       [-math.sin(angle), math.cos(angle)]], jnp.float32)
  centre = geometry.centre(h, w)
  coords = centre + jnp.einsum("ab,bhw->ahw", inverse, geometry.pixel_grid(h, w) - centre)
  return geometry.resample_batch(images, jnp.broadcast_to(coords, (n, 2, h, w)))


def classifier(run: Any, chunk: int = 1000):
  """``images (N, H, W) uint8 -> predicted classes (N,)`` for a trained run,
  compiled once and applied in chunks of ``chunk`` digits."""
  apply = jax.jit(lambda x: run.model.apply(run.variables, run.preprocess(x)).argmax(-1))
  return lambda images: np.concatenate([np.asarray(apply(images[i:i + chunk]))
                                        for i in range(0, len(images), chunk)])


def sweeps(run: Any, data: MNIST) -> dict[str, list[float]]:
  """A run's test error at each shift (mean over :data:`DIRECTIONS`) and at each angle."""
  images = jnp.asarray(data.test.images[:SWEEP_EXAMPLES])
  labels = data.test.labels[:SWEEP_EXAMPLES]
  predict = classifier(run)
  error = lambda transformed: float((predict(transformed) != labels).mean())
  shift = [error(images)]
  for k in range(1, MAX_SHIFT + 1):
    shift.append(float(np.mean([error(shifted(images, k * dy, k * dx)) for dy, dx in DIRECTIONS])))
  rotation = [error(rotated(images, a)) if a else shift[0] for a in ANGLES]
  return {"shift": shift, "rotation": rotation}


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """Every run's error on the shifted and rotated test sets, and their figures."""
  numbers = {"shifts": list(range(MAX_SHIFT + 1)), "angles": list(ANGLES),
             "sweep_examples": min(SWEEP_EXAMPLES, len(data.test)), "variants": {}}
  for record in results["variants"]:
    per_run = [sweeps(load_run(os.path.join(workdir, run["workdir"])), data)
               for run in record["runs"]]
    numbers["variants"][record["name"]] = {key: [r[key] for r in per_run]
                                           for key in ("shift", "rotation")}
  figures = tuple(draw(results["variants"], numbers, key, workdir, data.noun)
                  for key in ("shift", "rotation"))
  return Analysis(numbers, figures)


# Per sweep: its numbers' key, the x axis' label and the title, for examples called ``{noun}``.
AXES = {"shift": ("shifts", "test {noun}s shifted by (pixels; mean over up, down, left, right)",
                  "Test error against translation of the test {noun}s"),
        "rotation": ("angles", "test {noun}s rotated by (degrees, anticlockwise)",
                     "Test error against rotation of the test {noun}s")}


def draw(variants: Sequence[Mapping[str, Any]], numbers: Mapping[str, Any], key: str,
         workdir: str, noun: str) -> Figure:
  """Test error against shift or angle: one axes per augmentation, one
  series per model (mean ± std over seeds as a band), a log error axis;
  ``noun`` names the examples ("digit")."""
  x_key, x_label, title = (text.format(noun=noun) for text in AXES[key])
  x = np.asarray(numbers[x_key], float)
  fig, axes = style.figure(cols=len(AUGMENTS), width=4.6 * len(AUGMENTS) + 2.4, height=4.2,
                           sharey=True)
  for ax, (augment_name, augment_label) in zip(axes[0], AUGMENTS):
    for i, (model, label, _) in enumerate(MODELS):
      name = f"{model}_{augment_name}"
      if name not in numbers["variants"]:
        continue
      runs = 100 * np.asarray(numbers["variants"][name][key])
      mean, std = runs.mean(axis=0), runs.std(axis=0, ddof=1) if len(runs) > 1 else 0 * runs[0]
      ax.plot(x, mean, style.marker(i) + "-", color=style.colour(i), label=label, markersize=4)
      ax.fill_between(x, np.maximum(mean - std, 1e-3), mean + std, color=style.colour(i),
                      alpha=0.2)
    ax.set_title(augment_label)
    ax.set_xticks(x)
    style.log_axis(ax, which="y", label="test error (%), mean ± 1 std", subs=(1.0, 2.0, 5.0))
    ax.set_xlabel(x_label)
  for ax in axes[0, 1:]:
    ax.set_ylabel("")  # the shared axis is labelled once
  style.legend_outside(axes[0, -1], title="network")
  fig.suptitle(title)
  figure = Figure(f"error_vs_{key}.png", f"{title}: mean over seeds, band ±1 std; left trained "
                  "without augmentation, right with random shifts of up to 2 pixels.")
  style.save(fig, os.path.join(workdir, figure.file))
  return figure


def _labels(results: Mapping[str, Any]) -> dict[str, str]:
  return {v["name"]: v["label"] for v in results["variants"]}


def summarise(results: Mapping[str, Any]) -> list[Finding]:
  """Tables of test error against shift and angle, and comparisons at
  :data:`PROBE_SHIFT` pixels: pooling against none, ConvNet against MLP,
  augmentation against none."""
  analysis = results.get("analysis", {})
  if "variants" not in analysis:
    return []
  errors, labels = analysis["variants"], _labels(results)
  noun = data_noun(reasked.dataset(results))
  names = [name for name in labels if name in errors]
  findings: list[Finding] = [
      Grid(f"error_vs_{key}", title, [labels[n] for n in names],
           [f"{x:g}" for x in analysis[x_key]],
           [[[seed[j] for seed in errors[n][key]] for j in range(len(analysis[x_key]))]
            for n in names], corner=corner,
           note=f"Test error (%) on the first {analysis['sweep_examples']:,} test {noun}s {how}, "
                "means ± std over seeds.")
      for key, x_key, title, corner, how in (
          ("shift", "shifts", "Test error against shift", "network \\ shift (pixels)",
           "shifted by k pixels (mean over up, down, left and right)"),
          ("rotation", "angles", "Test error against rotation", "network \\ angle (degrees)",
           "rotated anticlockwise by the angle"))]

  def at_probe(name: str) -> list[float]:
    return [seed[PROBE_SHIFT] for seed in errors[name]["shift"]]

  pairs = [(f"{a}_{aug}", f"{b}_{aug}") for aug, _ in AUGMENTS
           for a, b in (("max", "nopool"), ("avg", "nopool"), ("max", "mlp"))]
  pairs += [(f"{model}_shift", f"{model}_none") for model, _, _ in MODELS]
  findings += [Comparison(f"{a}_vs_{b}_shift{PROBE_SHIFT}", f"{labels[a]} against {labels[b]}, "
                          f"test {noun}s shifted by {PROBE_SHIFT} pixels", at_probe(a), at_probe(b))
               for a, b in pairs if a in errors and b in errors]
  return findings


EXPERIMENT = Experiment(
    name="translation",
    **load_text(__file__).as_fields(),
    variants=tuple(
        Variant(f"{model}_{augment_name}", f"{label}, {augment_label}",
                {**overrides, "augment.name": augment_name}, family=augment_label)
        for augment_name, augment_label in AUGMENTS for model, label, overrides in MODELS),
    epochs=2,
    reference="max_shift",
    overrides={"data.train_subset": TRAIN_EXAMPLES},
    analyse=analyse,
    summarise=summarise,
)
