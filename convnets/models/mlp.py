"""Multi-layer perceptrons on the unrolled 28x28 image (Lecture 7, "Recap"),
the baselines of LeCun et al. 1998's table: 28x28-300-10 and friends.

Optional ``dropout`` on the hidden units (Srivastava et al. 2014) and
``batch_norm`` of the hidden pre-activations (Ioffe & Szegedy 2015), as in
the ConvNet (:func:`convnets.layers.hidden_layers`).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax

from convnets import ops
from convnets.layers import Dense, check_dropout, hidden_layers
from convnets.models.registry import register


class MLP(nn.Module):
  """``(N, H, W, C) -> (N, classes)``: flatten, ``hidden`` layers, linear output."""
  hidden: Sequence[int] = (300,)
  activation: str = "relu"
  classes: int = 10
  batch_norm: bool = False
  dropout: float = 0.0

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    x = hidden_layers(x.reshape(x.shape[0], -1), self.hidden, self.activation,
                      batch_norm=self.batch_norm, dropout=self.dropout, train=train)
    return Dense(self.classes, name="output")(x)


def _mlp_factory(default_hidden: tuple[int, ...]):
  def factory(hidden: Sequence[int] = default_hidden, activation: str = "relu",
              batch_norm: bool = False, dropout: float = 0.0) -> MLP:
    ops.get_activation(activation)
    check_dropout(dropout)
    return MLP(hidden=tuple(hidden), activation=activation, batch_norm=batch_norm,
               dropout=dropout)
  return factory


for _hidden in [(300,), (1000,), (300, 100), (500, 150)]:
  _name = "mlp_" + "_".join(map(str, _hidden))
  register(_name, f"MLP 28x28-{'-'.join(map(str, _hidden))}-10 (LeCun et al. 1998)")(
      _mlp_factory(_hidden))
