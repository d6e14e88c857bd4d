"""Hidden-unit transfer functions: sigmoid, tanh, LeCun's scaled tanh, ReLU,
leaky ReLU, ELU and GELU, in an MLP and in the lecture's ConvNet.

  python run_experiment.py --experiment=transfer_functions --workdir=W [--seeds=3] [--quick]
"""

from __future__ import annotations

from typing import Any, Mapping

from convnets.data import MNIST
from convnets.experiment import Analysis, Experiment, Variant, families
from convnets.experiment.spec import load_text
from convnets.experiment.values import Finding, setting

ACTIVATIONS = ("sigmoid", "tanh", "lecun_tanh", "relu", "leaky_relu", "elu", "gelu")
NETWORKS = {"MLP": {"model.name": "mlp_300_100"}, "ConvNet": {"model.name": "convnet"}}


def activation(record: Mapping[str, Any]) -> str:
  return setting(record, "activation")


def summarise(results: Mapping[str, Any]) -> list[Finding]:
  """The test errors as a transfer function x network grid, and within each
  network every transfer function against ReLU."""
  variants = results["variants"]
  return [families.grid(variants, activation, "transfer function"),
          *families.comparisons(variants, activation, "relu")]


def analyse(workdir: str, results: Mapping[str, Any], data: MNIST) -> Analysis:
  """Each network's learning curves on their own."""
  return Analysis({}, tuple(families.curves(results["variants"], workdir, "Transfer functions")))


EXPERIMENT = Experiment(
    name="transfer_functions",
    **load_text(__file__).as_fields(),
    variants=tuple(
        Variant(f"{network.lower()}_{name}", f"{network}, {name}",
                {**overrides, "model.activation": name}, family=network)
        for network, overrides in NETWORKS.items() for name in ACTIVATIONS),
    epochs=6,
    analyse=analyse,
    summarise=summarise,
)
