"""Hidden-unit transfer functions: sigmoid, tanh, LeCun's scaled tanh, ReLU,
leaky ReLU, ELU and GELU, in an MLP and in the lecture's ConvNet.

  python experiments/transfer_functions.py --workdir=W [--seeds=3] [--quick]

Time (2-core CPU, defaults): the ConvNet takes about 6 s per epoch plus
about 1 s of validation, the 28x28-300-100-10 MLP about 1 s plus 0.3 s;
each run adds about 8 s (compiling, testing, writing). 7 transfer functions
x 2 networks x 3 seeds x 6 epochs: 21 x (6 x 7 + 8) + 21 x (6 x 1.3 + 8)
= 1,050 + 330 s, about 23 minutes (GELU, not monotone, cannot pool before
its transfer function and costs a little more); measured alone: 24.8.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # run as a script: make the repository root importable
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from typing import Any, Mapping  # noqa: E402

from convnets.data import MNIST  # noqa: E402
from convnets.experiment import Analysis, Experiment, Variant, families  # noqa: E402

ACTIVATIONS = ("sigmoid", "tanh", "lecun_tanh", "relu", "leaky_relu", "elu", "gelu")
NETWORKS = {"MLP": {"model": "mlp_300_100"}, "ConvNet": {"model": "convnet"}}


def activation(record: Mapping[str, Any]) -> str:
  return record["model_kwargs"]["activation"]


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """The test errors as a transfer function x network table, and each
  network's learning curves on their own."""
  variants = results["variants"]
  markdown = families.section(
      "Transfer function against network", variants, activation, "transfer function",
      "The per-network learning curves show how fast each transfer function trains, not "
      "only where it ends.")
  markdown += "\n\n" + families.findings(
      variants, activation, "relu",
      f"the ranking after longer training than {variants[0]['epochs']} epochs (the curves say "
      "whether it was still changing), with initialisations matched to each function (e.g. "
      "Glorot for tanh), or in deeper networks.")
  figures = families.curves(variants, workdir, "Transfer functions")
  return Analysis({}, markdown, tuple(figures))


EXPERIMENT = Experiment(
    name="transfer_functions",
    title="Hidden-unit transfer functions in an MLP and a ConvNet",
    question=(
        "Which transfer function of the hidden units (sigmoid, tanh, LeCun's scaled tanh "
        "1.7159 tanh(2a/3), ReLU, leaky ReLU, ELU or GELU) trains an MLP and the lecture's "
        "ConvNet fastest, and which gives the lowest test error? Is the ranking the same for "
        "both networks?"),
    motivation=(
        "The lecture's feature maps use the sigmoid, h = sigmoid(w ⊗ x + b), and LeCun et al. "
        "1998 a scaled tanh chosen so that f(±1) = ±1; hidden unit transfer functions are one of "
        "the coursework's suggested topics. Saturating functions (sigmoid, tanh) have small "
        "gradients for large inputs and the sigmoid's outputs are not zero-centred, which slows "
        "gradient descent (LeCun et al. 1998, \"Efficient BackProp\"); ReLU does not saturate "
        "for positive inputs but can die (zero gradient for negative ones), which leaky ReLU, "
        "ELU and GELU avoid in different ways. Whether these differences matter on MNIST, and "
        "whether weight sharing changes them, is an empirical question."),
    method=(
        "Two networks, each trained with all seven transfer functions in every hidden layer: "
        "the MLP 28x28-300-100-10 of LeCun et al. 1998 (`mlp_300_100`) and the lecture's "
        "simple ConvNet (20 5x5 maps, 2x2 max-pooling, 100 hidden units). Leaky ReLU has slope "
        "0.01 for negative inputs; ELU is a for a > 0 and exp(a) - 1 otherwise; GELU is "
        "a Φ(a) (tanh approximation). The output layer is linear (softmax cross-entropy) in "
        "every case, and weights are initialised N(0, 1/fan_in) whatever the transfer "
        "function, so that only the transfer function differs. 6 epochs per run rather than "
        "the default 12, so that 14 variants x 3 seeds fit the 30-minute budget on a 2-core "
        "CPU; the learning curves show whether the ranking is still changing at the end."),
    variants=tuple(
        Variant(f"{network.lower()}_{name}", f"{network}, {name}",
                {**overrides, "model_kwargs.activation": name}, family=network)
        for network, overrides in NETWORKS.items() for name in ACTIVATIONS),
    epochs=6,
    analyse=analyse,
)


if __name__ == "__main__":
  from experiments import cli
  cli.main(EXPERIMENT.name)
