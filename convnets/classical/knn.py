"""K-nearest neighbours with the Euclidean distance on the pixels: LeCun et
al. 1998, Section V.A.3 ("a K-nearest neighbor classifier with a Euclidean
distance measure between input images ... no training time and no thought
on the part of the designer"; the paper's best K is not given).

All queries are answered on the device: squared distances as
``|q|^2 - 2 q.t + |t|^2`` (one matrix product per chunk of queries against
every stored digit) and ``jax.lax.top_k``; K is chosen on the validation split.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

K_MAX = 10          # K is chosen among 1..K_MAX on the validation split
CHUNK = 500         # queries per distance matrix ((CHUNK, N) float32 in memory)


def squared_distances(queries: jax.Array, stored: jax.Array) -> jax.Array:
  """``(Q, D)`` and ``(N, D)`` -> ``(Q, N)`` squared Euclidean distances,
  clipped at 0 (the expansion's rounding can dip below it)."""
  cross = queries @ stored.T
  return jnp.maximum(jnp.sum(queries ** 2, 1)[:, None] - 2 * cross
                     + jnp.sum(stored ** 2, 1)[None, :], 0.0)


@functools.partial(jax.jit, static_argnames=("k", "chunk"))
def nearest(queries: jax.Array, stored: jax.Array, *, k: int, chunk: int = CHUNK
            ) -> tuple[jax.Array, jax.Array]:
  """The ``k`` stored digits nearest each query: squared distances and
  indices, both ``(Q, k)``, nearest first. Queries go ``chunk`` at a time
  (padded to a multiple), so memory stays ``chunk x N``."""
  q = queries.shape[0]
  padded = jnp.pad(queries, ((0, -q % chunk), (0, 0)))

  def one(block: jax.Array) -> tuple[jax.Array, jax.Array]:
    negative, index = jax.lax.top_k(-squared_distances(block, stored), k)
    return -negative, index

  distances, indices = jax.lax.map(one, padded.reshape(-1, chunk, queries.shape[1]))
  return distances.reshape(-1, k)[:q], indices.reshape(-1, k)[:q]


def vote(neighbour_labels: jax.Array, k: int) -> jax.Array:
  """``(Q, >= k)`` labels of the neighbours, nearest first -> ``(Q,)`` the
  class most frequent among the first ``k``; a tie goes to the tied class
  whose nearest member ranks first."""
  first = neighbour_labels[:, :k]
  hits = first[:, :, None] == jnp.arange(10)[None, None, :]               # (Q, k, 10)
  counts = hits.sum(axis=1)
  rank = jnp.where(hits, jnp.arange(k)[None, :, None], k).min(axis=1)   # first rank per class
  return jnp.argmax(counts - rank / (k + 1), axis=1)


def errors_by_k(neighbour_labels: jax.Array, valid_labels: jax.Array, k_max: int
                ) -> list[float]:
  """The validation error of the vote of the first ``k`` neighbours, for
  ``k = 1..k_max``: ``neighbour_labels`` ``(Q, >= k_max)`` nearest first,
  ``valid_labels`` ``(Q,)``."""
  return [float(jnp.mean(vote(neighbour_labels, k) != valid_labels))
          for k in range(1, k_max + 1)]


def fit_knn(train: jax.Array, labels: jax.Array, valid: jax.Array, valid_labels: jax.Array,
            *, key: jax.Array, k_max: int = K_MAX) -> tuple[dict[str, jax.Array], dict[str, float]]:
  """Store ``train`` ``(N, D)``; choose K in ``1..k_max`` by the validation
  error (the smallest K among equals)."""
  del key
  _, index = nearest(valid, train, k=k_max)
  errors = errors_by_k(labels[index], valid_labels, k_max)
  k = 1 + min(range(k_max), key=lambda i: errors[i])
  return {"train": train, "labels": labels, "k": k}, {"k": k}


def predict_knn(state: dict[str, jax.Array], x: jax.Array) -> jax.Array:
  _, index = nearest(x, state["train"], k=state["k"])
  return vote(state["labels"][index], state["k"])
