"""Weight penalties: L1 and L2 regularisation as pure functions of the parameters.

Added to the training criterion, a penalty ``Omega(w)`` prefers small weights
(Goodfellow, Bengio & Courville, *Deep Learning*, Sections 7.1.1-7.1.2; the
course's "L1 vs L2 regularisation" topic, with mlpractical's conventions):

* L1: ``Omega(w) = sum_i |w_i|``, gradient ``sign(w_i)``: a constant pull to
  zero whatever the weight's size, so weights the data do not need become
  exactly zero (sparse weights).
* L2: ``Omega(w) = 1/2 sum_i w_i^2``, gradient ``w_i``: a pull proportional to
  the weight, which shrinks all weights but rarely zeroes any ("weight decay"
  under plain SGD).

Only *weights* are penalised: the leaves named ``kernel`` (convolution HWIO
kernels, dense ``(D_in, D_out)`` matrices, LeNet's connection-table kernels).
Biases, batch-normalisation scales and shifts and learnt pooling exponents
are left alone: they do not multiply inputs, so shrinking them does not make
the function smoother, only shifts it (Goodfellow et al., Section 7.1).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

WEIGHT_NAME = "kernel"


def weights(params: Any) -> list[jax.Array]:
  """The weight arrays of a parameter tree: every leaf named ``kernel``."""
  leaves = jax.tree_util.tree_leaves_with_path(params)
  return [leaf for path, leaf in leaves
          if getattr(path[-1], "key", getattr(path[-1], "name", None)) == WEIGHT_NAME]


def l1_penalty(params: Any) -> jax.Array:
  """``sum |w|`` over every weight (kernel) of ``params``; a float32 scalar."""
  return sum((jnp.abs(w).sum() for w in weights(params)), jnp.zeros((), jnp.float32))


def l2_penalty(params: Any) -> jax.Array:
  """``1/2 sum w^2`` over every weight (kernel) of ``params``; its gradient is ``w``."""
  return sum((0.5 * jnp.square(w).sum() for w in weights(params)), jnp.zeros((), jnp.float32))


def weight_penalty(params: Any, l1: float = 0.0, l2: float = 0.0) -> jax.Array:
  """``l1 * sum |w| + l2 * 1/2 sum w^2``, the term added to the mean training
  loss; a coefficient of 0 leaves its penalty out of the computation."""
  total = jnp.zeros((), jnp.float32)
  if l1:
    total = total + l1 * l1_penalty(params)
  if l2:
    total = total + l2 * l2_penalty(params)
  return total
