"""Batch normalisation against learning rate: the lecture's ConvNet and a
deeper ConvNet, with and without batch normalisation, trained by SGD with
momentum at three learning rates.

  python experiments/batch_norm.py --workdir=W [--seeds=3] [--quick]

Time (2-core CPU, defaults): measured with the CPU shared (about half
speed), an epoch of 390 steps takes 10 s for the simple ConvNet without BN
and 15 s with it, 17 s and 26 s for the deeper one; on a quiet CPU about 5,
7, 8.5 and 13 s, plus about 1.2 s of validation per epoch and 8 s per run.
12 variants x 3 seeds x 3 epochs: 3 seeds x 3 learning rates x
(3 x (5 + 7 + 8.5 + 13) + 4 x 3 x 1.2 + 4 x 8) s = 1,320 s, about 22 minutes (measured alone: 24.1).
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # run as a script: make the repository root importable
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from typing import Any, Mapping  # noqa: E402

from convnets.data import MNIST  # noqa: E402
from convnets.experiment import Analysis, Experiment, Trend, Variant  # noqa: E402
from convnets.experiment.report import p_value, percent  # noqa: E402
from convnets.experiment.stats import direction, pair, per_seed, spread  # noqa: E402

LEARNING_RATES = (0.01, 0.1, 0.5)
CHANCE = 0.8  # a test error at least this high: the run learnt next to nothing
# The deeper ConvNet: four 3x3 convolution + 2x2 max-pooling layers of 16 maps
# (28 -> 14 -> 7 -> 3 -> 1), then 100 hidden units: about the lecture
# ConvNet's cost per epoch on CPU, with four times its depth of convolutions.
DEEP = {"model_kwargs.conv_features": (16, 16, 16, 16), "model_kwargs.kernel_size": 3,
        "model_kwargs.padding": "SAME", "model_kwargs.conv_impl": "xla"}
NETWORKS = {"simple": ("simple ConvNet", {}), "deep": ("4-layer ConvNet", DEEP)}


def _variant(network: str, batch_norm: bool, rate: float) -> Variant:
  label, overrides = NETWORKS[network]
  family = f"{label}, {'BN' if batch_norm else 'no BN'}"
  settings: dict[str, Any] = {**overrides, "model_kwargs.batch_norm": batch_norm,
                              "learning_rate": rate}
  return Variant(f"{network}_{'bn' if batch_norm else 'plain'}_lr{rate:g}",
                 f"{family}, lr {rate:g}", settings, family=family,
                 coords={"learning_rate": rate})


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """Per network and learning rate, the network with BN against the same
  network without it: test error, validation error after the first epoch
  (the speed of training), runs stopped by a non-finite loss, and Welch's
  test of the test errors; then what that shows."""
  by_name = {v["name"]: v for v in results["variants"]}
  lines = ["### With against without batch normalisation", "",
           "| network | learning rate | test error, no BN (%) | test error, BN (%) | BN − no BN "
           "(points) | p | valid error after epoch 1, no BN → BN (%) | failed runs (no BN, "
           "BN) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
  verdicts: dict[str, dict[str, list[str]]] = {}
  for network, (label, _) in NETWORKS.items():
    verdicts[label] = {"lower": [], "higher": [], "level": [], "untested": []}
    for rate in LEARNING_RATES:
      plain = by_name.get(f"{network}_plain_lr{rate:g}")
      normed = by_name.get(f"{network}_bn_lr{rate:g}")
      if plain is None or normed is None:
        continue
      first = lambda v: spread([1 - run["curves"][0]["valid_accuracy"] for run in v["runs"]])
      failed = {which: (sum(run["epochs"] < v["epochs"] or run["test_error"] >= CHANCE
                            for run in v["runs"]), len(v["runs"]))
                for v, which in ((plain, "without BN"), (normed, "with BN"))}
      c = pair(per_seed(normed), per_seed(plain))
      difference = 100 * c["difference"]
      verdicts[label][direction(c)].append(
          f"{rate:g} ({difference:+.2f} points" + "".join(
              f"; {n} of {seeds} seeds {which} failed"
              for which, (n, seeds) in failed.items() if n) + ")")
      lines.append(
          f"| {label} | {rate:g} | {percent(plain['test_error']['mean'], plain['test_error']['std'])}"
          f" | {percent(normed['test_error']['mean'], normed['test_error']['std'])} | "
          f"{difference:+.2f} | {p_value(c['p'])} | {100 * first(plain)['mean']:.2f} → "
          f"{100 * first(normed)['mean']:.2f} | {', '.join(str(n) for n, _ in failed.values())} |")
  lines += ["", "p: Welch's two-sided t-test on the per-seed test errors of the two networks at "
            "the same learning rate. Failed runs: seeds whose loss became infinite or NaN "
            f"(tested as they were when they stopped) or whose test error is {100 * CHANCE:.0f}% "
            "or more (stuck at one class); one failed seed among three can hide a real "
            "difference from Welch's test, whose variance it inflates.", "",
            "### What this shows", ""]
  for label, kinds in verdicts.items():
    words = {"lower": "BN lowers the test error beyond seed noise at learning rate",
             "higher": "BN raises it beyond seed noise at",
             "level": "within seed noise at",
             "untested": "untested (one seed, or no spread) at"}
    lines.append(f"- {label}: " + "; ".join(f"{words[kind]} {', '.join(rates)}"
                                           for kind, rates in kinds.items() if rates) + ".")
  best = min(results["variants"], key=lambda v: v["test_error"]["mean"])
  lines += [f"- The lowest mean test error is with {best['label']} "
            f"({percent(best['test_error']['mean'], best['test_error']['std'])}%).",
            f"- Not shown: what happens after more than {results['variants'][0]['epochs']} "
            "epoch(s) (BN's claim is faster training; the unnormalised networks may catch up), "
            "with Adam, or in networks deeper than four convolutional layers (see "
            "`skip_connections`)."]
  return Analysis({}, "\n".join(lines), ())


EXPERIMENT = Experiment(
    name="batch_norm",
    title="Batch normalisation across learning rates, in a shallow and a deeper ConvNet",
    question=(
        "Does batch normalisation let a ConvNet train faster and at higher learning rates, and "
        "does it matter more for a deeper ConvNet than for the lecture's one-layer ConvNet? At "
        "each of three learning rates for SGD with momentum, how do the test errors and "
        "learning curves with and without batch normalisation compare?"),
    motivation=(
        "Batch normalisation is one of the coursework's more complex topics. Ioffe & Szegedy "
        "2015 normalise each unit's pre-activation over the mini-batch, then scale and shift it "
        "by learnt parameters, so that the distribution of every layer's inputs stays fixed "
        "while the layers below change; they report much faster training and tolerance of "
        "learning rates that make the unnormalised network diverge, since a weight's scale no "
        "longer changes its layer's output scale. The effect should grow with depth, where "
        "the changes of many layers compound."),
    method=(
        "Two networks: the lecture's simple ConvNet (20 5x5 maps, 2x2 max-pooling, 100 hidden "
        "units) and a deeper ConvNet of four 3x3 convolution + 2x2 max-pooling layers of 16 "
        "maps each (SAME padding: 28 -> 14 -> 7 -> 3 -> 1), then 100 hidden units. With batch "
        "normalisation (BN) every convolutional and hidden layer computes f(BN(W x)): each map "
        "(or unit) is normalised by the mean and variance over the batch and all positions "
        "(Ioffe & Szegedy, Section 3.2), then scaled and shifted by learnt γ and β, which "
        "replace the layer's bias; running averages of the statistics (momentum 0.9, unbiased "
        "variance) normalise at test time. Every variant is trained by SGD with (heavy-ball) "
        "momentum 0.9 and a cosine-decayed learning rate starting at 0.01, 0.1 or 0.5, so that "
        "the learning rate is the only tuned quantity and Adam's own per-weight scaling does "
        "not mask BN's effect. A run whose loss becomes infinite or NaN stops and is tested "
        "as it is. 3 epochs per run rather than the default 12, so that 12 variants x 3 seeds "
        "fit the 30-minute budget on a 2-core CPU; BN's claim is about the speed of training, "
        "which the first epochs show."),
    variants=tuple(_variant(network, batch_norm, rate) for network in NETWORKS
                   for batch_norm in (False, True) for rate in LEARNING_RATES),
    epochs=3,
    trends=(Trend("learning_rate", "initial learning rate (log scale)", log_x=True),),
    analyse=analyse,
    overrides={"optimizer": "momentum", "momentum": 0.9, "learning_rate": 0.1},
)


if __name__ == "__main__":
  from experiments import cli
  cli.main(EXPERIMENT.name)
