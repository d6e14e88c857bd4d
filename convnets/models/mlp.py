"""Multi-layer perceptrons on the unrolled 28x28 image (Lecture 7, "Recap"),
the baselines of LeCun et al. 1998's table: 28x28-300-10 and friends."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax

from convnets import ops
from convnets.layers import Dense
from convnets.models.registry import register


class MLP(nn.Module):
  """``(N, H, W, C) -> (N, classes)``: flatten, ``hidden`` layers, linear output."""
  hidden: Sequence[int] = (300,)
  activation: str = "relu"
  classes: int = 10

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    act = ops.get_activation(self.activation)
    x = x.reshape(x.shape[0], -1)
    for i, units in enumerate(self.hidden):
      x = act(Dense(units, name=f"hidden{i + 1}")(x))
    return Dense(self.classes, name="output")(x)


def _mlp_factory(default_hidden: tuple[int, ...]):
  def factory(hidden: Sequence[int] = default_hidden, activation: str = "relu") -> MLP:
    ops.get_activation(activation)
    return MLP(tuple(hidden), activation)
  return factory


for _hidden in [(300,), (1000,), (300, 100), (500, 150)]:
  _name = "mlp_" + "_".join(map(str, _hidden))
  register(_name, f"MLP 28x28-{'-'.join(map(str, _hidden))}-10 (LeCun et al. 1998)")(
      _mlp_factory(_hidden))
