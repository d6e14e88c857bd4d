"""Transfer functions of hidden units, looked up by name.

The lecture's units are sigmoid (Lecture 7, "Shared weights"); LeCun et al.
1998 (Appendix A) use the scaled tanh ``1.7159 tanh(2a/3)``, chosen so that
``f(+-1) = +-1`` and the second derivative peaks at ``a = +-1``; the rest are
the modern alternatives the coursework asks to compare.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp


def lecun_tanh(a: jax.Array) -> jax.Array:
  """LeCun et al. 1998's scaled tanh, ``1.7159 * tanh(2a / 3)``."""
  return 1.7159 * jnp.tanh(2.0 * a / 3.0)


ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "lecun_tanh": lecun_tanh,
    "relu": jax.nn.relu,
    "leaky_relu": jax.nn.leaky_relu,  # slope 0.01 for a < 0
    "elu": jax.nn.elu,
    "gelu": jax.nn.gelu,
    "softplus": jax.nn.softplus,
    "identity": lambda a: a,
}


def get_activation(name: str) -> Callable[[jax.Array], jax.Array]:
  """The transfer function called ``name``; a ValueError lists the known ones."""
  try:
    return ACTIVATIONS[name]
  except KeyError:
    raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}") from None
