"""1000 RBF + linear classifier: LeCun et al. 1998, Section V.A.5. "The first
layer consists of 1,000 Gaussian RBF units with 28x28 inputs, and the second
layer is a simple 1000 inputs / 10 outputs linear classifier. The RBF units
were divided into 10 groups of 100. Each group of units was trained on all
the training examples of one of the 10 classes using the adaptive K-means
algorithm. The second layer weights were computed using a regularized
pseudo-inverse method."

Here: per class, Lloyd's K-means (the batch form of adaptive K-means) from
100 distinct training digits of that class drawn by the seed; each unit's
width is its cluster's root-mean-square distance to its centre (the paper
gives none); the second layer by :mod:`ridge`, its ridge chosen on the
validation split.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from convnets.classical.knn import squared_distances
from convnets.classical.ridge import fit_ridge

CENTRES_PER_CLASS = 100
ITERATIONS = 30


@functools.partial(jax.jit, static_argnames=("iterations",))
def lloyd(points: jax.Array, centres: jax.Array, *, iterations: int) -> tuple[jax.Array,
                                                                               jax.Array]:
  """``iterations`` of Lloyd's K-means on ``points`` ``(N, D)`` from
  ``centres`` ``(K, D)``: each point to its nearest centre, each centre to
  the mean of its points (a centre left without points stays). Returns the
  centres and each cluster's mean squared distance to its centre ``(K,)``."""
  def assign(centres: jax.Array) -> jax.Array:
    return jax.nn.one_hot(jnp.argmin(squared_distances(points, centres), axis=1),
                          centres.shape[0])                                   # (N, K)

  def step(centres: jax.Array, _: None) -> tuple[jax.Array, None]:
    members = assign(centres)
    counts = members.sum(axis=0)[:, None]
    means = members.T @ points / jnp.maximum(counts, 1)
    return jnp.where(counts > 0, means, centres), None

  centres = jax.lax.scan(step, centres, None, length=iterations)[0]
  members = assign(centres)
  spread = (members * squared_distances(points, centres)).sum(0) / jnp.maximum(
      members.sum(0), 1)
  return centres, spread


def activations(x: jax.Array, centres: jax.Array, widths: jax.Array) -> jax.Array:
  """``(N, D)`` -> ``(N, K)`` Gaussian units ``exp(-|x - c|^2 / (2 s^2))``,
  with a constant column appended for the linear layer's bias."""
  units = jnp.exp(-squared_distances(x, centres) / (2 * widths[None, :]))
  return jnp.concatenate([units, jnp.ones((x.shape[0], 1), x.dtype)], axis=1)


def fit_rbf(train: jax.Array, labels: jax.Array, valid: jax.Array, valid_labels: jax.Array,
            *, key: jax.Array, centres_per_class: int = CENTRES_PER_CLASS,
            iterations: int = ITERATIONS) -> tuple[dict[str, jax.Array], dict[str, float]]:
  """K-means centres per class of ``train`` ``(N, D)``, then the linear layer."""
  labels_host = np.asarray(labels)
  centres, widths = [], []
  for digit, class_key in zip(range(10), jax.random.split(key, 10)):
    points = train[np.flatnonzero(labels_host == digit)]
    start = jax.random.choice(class_key, points.shape[0], (centres_per_class,), replace=False)
    found, spread = lloyd(points, points[start], iterations=iterations)
    centres.append(found)
    widths.append(spread)
  centres = jnp.concatenate(centres)
  # A cluster of one point (or copies) has no spread; give it the median's.
  widths = jnp.concatenate(widths)
  widths = jnp.where(widths > 0, widths, jnp.median(widths))
  w, ridge = fit_ridge(activations(train, centres, widths), labels,
                       activations(valid, centres, widths), valid_labels)
  return {"centres": centres, "widths": widths, "w": w}, {"ridge": ridge}


def predict_rbf(state: dict[str, jax.Array], x: jax.Array) -> jax.Array:
  return jnp.argmax(activations(x, state["centres"], state["widths"]) @ state["w"], axis=1)
