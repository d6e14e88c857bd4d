"""Regularised least squares ("the regularized pseudo-inverse method" with
which LeCun et al. 1998, Section V.A.5, computed the RBF network's second
layer), with the ridge chosen on the validation split.

One eigendecomposition of ``F^T F`` gives the solution for every ridge at
the cost of one, so choosing the ridge on held-out digits is nearly free.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp

# Ridges relative to the mean eigenvalue of F^T F / N (a scale-free grid).
RIDGES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def one_hot_targets(labels: jax.Array, classes: int = 10) -> jax.Array:
  """``(N,)`` int -> ``(N, classes)``: +1 for the label, -1 elsewhere."""
  return 2.0 * jax.nn.one_hot(labels, classes) - 1.0


@jax.jit
def _solutions(features: jax.Array, targets: jax.Array, ridges: jax.Array) -> jax.Array:
  """``(R, F, C)``: ``(F^T F / N + r m I)^-1 F^T T / N`` for each ridge ``r``,
  ``m`` the mean eigenvalue of ``F^T F / N``; ``features`` ``(N, F)``,
  ``targets`` ``(N, C)``."""
  n = features.shape[0]
  values, vectors = jnp.linalg.eigh(features.T @ features / n)
  projected = vectors.T @ (features.T @ targets / n)                        # (F, C)
  scale = jnp.maximum(values.mean(), 1e-12)
  inverse = 1.0 / (values[None, :] + ridges[:, None] * scale)               # (R, F)
  return jnp.einsum("fg,rg,gc->rfc", vectors, inverse, projected)


def fit_ridge(train: jax.Array, train_labels: jax.Array, valid: jax.Array,
              valid_labels: jax.Array, ridges: Sequence[float] = RIDGES
              ) -> tuple[jax.Array, float]:
  """The weights ``(F, 10)`` mapping ``train`` features ``(N, F)`` to +-1
  one-hot targets, with the ridge of ``ridges`` whose classifier (the
  largest output wins) errs least on ``valid`` ``(M, F)``; and that ridge."""
  weights = _solutions(train, one_hot_targets(train_labels), jnp.asarray(ridges, jnp.float32))
  errors = jnp.mean(jnp.argmax(valid @ weights, axis=-1) != valid_labels[None], axis=-1)
  best = int(jnp.argmin(errors))
  return weights[best], float(ridges[best])
