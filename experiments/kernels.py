"""Hand-designed against learned first-layer kernels in the simple ConvNet.

Lecture 7 ("Learning image kernels"): image kernels have been designed by
hand for feature extraction (identity, edge detection, sharpening), "however,
we can learn multiple kernel functions (feature maps) by optimising the
network cost function". Tested here: the lecture's five kernels held fixed,
random kernels held fixed, and kernels learned from random or from the
hand-designed ones; then whether learned kernels resemble the edge detectors.

  python run_experiment.py --experiment=kernels --workdir=W [--seeds=3] [--quick]
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import jax.numpy as jnp
import numpy as np

from convnets import ops, pictures
from convnets.data import MNIST
from convnets.experiment import Analysis, Experiment, Figure, Variant
from convnets.experiment.spec import load_text
from convnets.experiment.stats import per_seed
from convnets.experiment.trained import load_run
from convnets.experiment.values import Comparison, Finding, Grid, Value
from convnets.ops.kernels import HAND_DESIGNED, hand_designed_bank

MAPS = len(HAND_DESIGNED)
HAND_FIXED, HAND_LEARNED = "hand_fixed", "hand_learned"
RANDOM = ("random_fixed", "random_fixed5")         # random kernels, never trained
LEARNED = ("learned", "learned5", HAND_LEARNED)     # first layers that trained
# Where a learned kernel counts as more like a hand-designed one than chance:
# above this quantile of the same statistic over the random kernels.
CHANCE_QUANTILE = 0.95
FEATURE_MAP_DIGIT = 0  # the test digit whose feature maps are drawn


def first_layer(variables: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
  """The first convolution's kernels ``(kh, kw, maps)`` (one input map) and biases ``(maps,)``."""
  conv = variables["params"]["conv1"]["conv"]
  return np.asarray(conv["kernel"])[:, :, 0, :], np.asarray(conv["bias"])


def placements(size: int) -> np.ndarray:
  """Every hand-designed 3x3 kernel at every position inside a ``size x size``
  window: ``(len(HAND_DESIGNED), (size - 2) ** 2, size, size)``."""
  out = np.zeros((MAPS, (size - 2) ** 2, size, size), np.float32)
  for f, kernel in enumerate(HAND_DESIGNED.values()):
    for p in range((size - 2) ** 2):
      i, j = divmod(p, size - 2)
      out[f, p, i:i + 3, j:j + 3] = kernel
  return out


def _normalised(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
  centred = a - a.mean(axis=axes, keepdims=True)
  return centred / np.maximum(np.sqrt((centred ** 2).sum(axis=axes, keepdims=True)), 1e-12)


def resemblance(kernels: np.ndarray) -> np.ndarray:
  """Each kernel's best absolute Pearson correlation with a hand-designed
  kernel, over the five kernels and every placement of their 3x3 support in
  the window (a sign-reversed edge detector detects the opposite edge, and a
  learned detector need not be centred).

  Args:
    kernels: ``(kh, kw, maps)``, square and at least 3x3.

  Returns:
    ``(maps,)`` in [0, 1]: 1 for a hand-designed kernel (or a scaled,
    negated or moved copy), near 0 for one unlike all of them.
  """
  targets = _normalised(placements(kernels.shape[0]), (2, 3))
  learned = _normalised(np.moveaxis(kernels, -1, 0), (1, 2))
  r = np.einsum("mkl,fpkl->mfp", learned, targets)
  return np.abs(r).reshape(len(learned), -1).max(axis=1)


def movement(start: np.ndarray, end: np.ndarray) -> dict[str, np.ndarray]:
  """How far each kernel moved in training, ``start`` and ``end`` ``(kh, kw, maps)``:
  its relative change ``|end - start| / |start|`` (Frobenius norms) and its
  Pearson correlation with its start, each ``(maps,)``."""
  change = np.linalg.norm((end - start).reshape(-1, start.shape[-1]), axis=0)
  relative = change / np.linalg.norm(start.reshape(-1, start.shape[-1]), axis=0)
  r = (_normalised(np.moveaxis(start, -1, 0), (1, 2))
       * _normalised(np.moveaxis(end, -1, 0), (1, 2))).sum(axis=(1, 2))
  return {"relative_change": relative, "correlation_with_start": r}


def _records(results: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
  return {v["name"]: v for v in results["variants"]}


def _trained(workdir: str, record: Mapping[str, Any]) -> list[Any]:
  return [load_run(os.path.join(workdir, run["workdir"])) for run in record["runs"]]


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """Read every run's first layer: how edge-like its kernels are
  (:func:`resemblance`), how far the kernels started from the hand-designed
  ones moved (:func:`movement`); draw the kernels and one digit's maps."""
  records = _records(results)
  runs = {name: _trained(workdir, record) for name, record in records.items()}
  layers = {name: [first_layer(run.variables) for run in found] for name, found in runs.items()}
  numbers: dict[str, Any] = {"resemblance": {
      name: [resemblance(kernels).tolist() for kernels, _ in found]
      for name, found in layers.items() if name in RANDOM + LEARNED}}
  if HAND_LEARNED in layers:
    start = hand_designed_bank(layers[HAND_LEARNED][0][0].shape[0])[:, :, 0, :]
    numbers["movement"] = [{k: v.tolist() for k, v in movement(start, kernels).items()}
                           for kernels, _ in layers[HAND_LEARNED]]
  shown = [name for name in (HAND_FIXED, HAND_LEARNED, "learned5", "learned", "random_fixed5")
           if name in layers]
  labels = {name: records[name]["label"] for name in shown}
  figures = (_draw_kernels(workdir, [(labels[n], layers[n][0][0]) for n in shown]),
             _draw_maps(workdir, data, [(labels[n], runs[n][0]) for n in shown]))
  return Analysis(numbers, figures)


def _unit_peak(kernels: np.ndarray) -> np.ndarray:
  """Each kernel divided by its largest absolute weight (its shape, on one scale)."""
  return kernels / np.maximum(np.abs(kernels).max(axis=(0, 1), keepdims=True), 1e-12)


def _draw_kernels(workdir: str, sets: Sequence[tuple[str, np.ndarray]]) -> Figure:
  figure = Figure("kernels.png", "First-layer kernels of the first seed, each divided by its "
                  "largest absolute weight so that shapes compare on one colour scale (blue "
                  "negative, red positive); the hand-designed ones (fixed) are the lecture's "
                  "identity, three edge detectors and sharpen, in the centre of the 5x5 window.")
  pictures.draw_kernels(sets=[(name, _unit_peak(k)) for name, k in sets],
                        path=os.path.join(workdir, figure.file),
                        title="First-layer kernels: hand-designed and learned")
  return figure


def _draw_maps(workdir: str, data: MNIST, runs: Sequence[tuple[str, Any]]) -> Figure:
  """One test example's first-layer maps (pre-activations, bias included) in
  each network, each set divided by its largest absolute value."""
  image = data.test.images[FEATURE_MAP_DIGIT:FEATURE_MAP_DIGIT + 1]
  sets = []
  for name, run in runs:
    kernel = run.variables["params"]["conv1"]["conv"]["kernel"]
    bias = run.variables["params"]["conv1"]["conv"]["bias"]
    maps = np.asarray(ops.conv2d(jnp.asarray(run.preprocess(image)), kernel, bias))[0]
    sets.append((name, maps / max(float(np.abs(maps).max()), 1e-12)))
  figure = Figure("feature_maps.png", f"Test {data.noun} {FEATURE_MAP_DIGIT} (label "
                  f"{int(data.test.labels[FEATURE_MAP_DIGIT])}) and its first-layer feature maps "
                  "(before the ReLU, bias included) in each network's first seed, each set "
                  "divided by its largest absolute value.")
  pictures.draw_feature_maps(image=np.asarray(image[0], np.float32) / 255.0, sets=sets,
                             path=os.path.join(workdir, figure.file),
                             title=f"One {data.noun} through each first layer")
  return figure


def _per_seed_mean(values: Sequence[Sequence[float]]) -> list[float]:
  return [float(np.mean(v)) for v in values]


def summarise(results: Mapping[str, Any]) -> list[Finding]:
  """Test-error comparisons of the hand-designed kernels; how edge-like the
  learned kernels are against random ones; how far the hand-designed start moved."""
  records = _records(results)
  findings: list[Finding] = []
  if HAND_FIXED in records:
    findings += [Comparison(f"hand_fixed_vs_{name}", f"hand-designed fixed against "
                            f"{records[name]['label']}: test error",
                            per_seed(records[HAND_FIXED]), per_seed(records[name]))
                 for name in ("random_fixed5", "learned5", HAND_LEARNED) if name in records]
  analysis = results.get("analysis", {})
  resemblance_ = analysis.get("resemblance", {})
  random = [r for name in RANDOM for seed in resemblance_.get(name, []) for r in seed]
  if random:
    threshold = float(np.quantile(random, CHANCE_QUANTILE))
    rows = [name for name in RANDOM + LEARNED if name in resemblance_]
    findings.append(Grid(
        "resemblance", "Learned kernels against the hand-designed ones",
        [records[name]["label"] for name in rows],
        ["best |r| with a hand-designed kernel", f"share above random's {CHANCE_QUANTILE:.0%} "
         "quantile"],
        [[_per_seed_mean(resemblance_[name]),
          [float(np.mean(np.asarray(seed) > threshold)) for seed in resemblance_[name]]]
         for name in rows],
        units={"best |r| with a hand-designed kernel": ""}, corner="first layer",
        note="Per kernel, its best absolute Pearson correlation with one of the lecture's five "
             "kernels over every placement of their 3x3 support in the 5x5 window, averaged over "
             "the layer's kernels (means ± std over seeds); the share counts a layer's kernels "
             f"above the {CHANCE_QUANTILE:.0%} quantile of the random (untrained) kernels' "
             "values."))
    findings.append(Value("resemblance_chance", f"the random kernels' {CHANCE_QUANTILE:.0%} "
                          "quantile of best |r|", threshold))
    for name in LEARNED:
      if name in resemblance_ and "random_fixed" in resemblance_:
        findings.append(Comparison(
            f"resemblance_{name}", f"best |r| with a hand-designed kernel, "
            f"{records[name]['label']} against random kernels (20 maps)",
            _per_seed_mean(resemblance_[name]), _per_seed_mean(resemblance_["random_fixed"]),
            unit=""))
  if "movement" in analysis:
    findings += _movement_findings(analysis["movement"])
  return findings


def _movement_findings(movement_: Sequence[Mapping[str, Sequence[float]]]) -> list[Finding]:
  """Per hand-designed kernel, how far training moved it (over seeds)."""
  keys = {"relative_change": "|W − W₀| / |W₀|", "correlation_with_start": "r with its start"}
  cells = [[[seed[key][f] for seed in movement_] for key in keys] for f in range(MAPS)]
  return [
      Grid("movement", "How far the hand-designed kernels moved when trained",
           list(HAND_DESIGNED), list(keys.values()), cells,
           units={label: "" for label in keys.values()}, corner="starting kernel",
           note="Each kernel of the network that started from the hand-designed ones, after "
                "training, against its start (the 3x3 kernel in the centre of a 5x5 window): "
                "relative change in Frobenius norm and Pearson r; means ± std over seeds."),
      Value("movement_relative_change", "mean relative change of the hand-designed kernels, "
            "per seed", _per_seed_mean([seed["relative_change"] for seed in movement_])),
      Value("movement_correlation", "mean Pearson r of each trained kernel with its "
            "hand-designed start, per seed",
            _per_seed_mean([seed["correlation_with_start"] for seed in movement_])),
  ]


def _first(kernels: str, fixed: bool, maps: int) -> dict[str, Any]:
  return {"model.conv_features": (maps,), "model.first_kernels": kernels,
          "model.first_fixed": fixed}


EXPERIMENT = Experiment(
    name="kernels",
    **load_text(__file__).as_fields(),
    variants=(
        Variant(HAND_FIXED, "hand-designed, fixed (5 maps)", _first("hand_designed", True, MAPS)),
        Variant("random_fixed5", "random, fixed (5 maps)", _first("random", True, MAPS)),
        Variant("learned5", "learned from random (5 maps)", _first("random", False, MAPS)),
        Variant(HAND_LEARNED, "learned from hand-designed (5 maps)",
                _first("hand_designed", False, MAPS)),
        Variant("random_fixed", "random, fixed (20 maps)", _first("random", True, 20)),
        Variant("learned", "learned from random (20 maps, the lecture's)",
                _first("random", False, 20)),
    ),
    epochs=3,
    reference=HAND_FIXED,
    analyse=analyse,
    summarise=summarise,
)
