"""Local learning (Bottou & Vapnik 1992, "Local learning algorithms"), the
classifier LeCun et al. 1998, Section III.C.10, put on LeNet-4's features:
"a local linear classifier is retrained each time a new test pattern is
shown".

For a query ``q``, the ``K`` stored feature vectors nearest to it (Euclidean,
:func:`convnets.classical.knn.nearest`) train a linear map ``x -> W x + b``
to their +-1 one-hot targets by ridge regression (the bias not penalised),
and the query's class is the largest output ``W q + b``. Centring the
neighbours on their mean makes the bias drop out: with ``X`` ``(K, D)`` the
centred neighbours and ``Y`` ``(K, 10)`` the centred targets,

  ``W = X^T (X X^T + l I)^-1 Y`` and ``out = mean(targets) + (q - mean(x)) W``,

one ``K x K`` solve per query (the dual form of the ``D x D`` normal
equations, equal to them for ``l > 0``). The ridge is
``l = r trace(X X^T) / K`` (scale-free ``r``): as ``r`` grows the output
tends to the neighbours' mean target, the K-NN vote. K and ``r`` are chosen
on the validation split. Queries go in chunks of ``CHUNK`` on the device,
every query's solve batched (no loop over test digits).
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp

from convnets.classical.knn import nearest
from convnets.classical.ridge import one_hot_targets

NEIGHBOURS = (10, 20, 50, 100)       # the K tried on the validation split
RIDGES = (1e-3, 1e-2, 1e-1, 1.0, 10.0)  # the r tried
CHUNK = 250                          # queries per batched solve ((CHUNK, K, K) in memory)


def local_outputs(queries: jax.Array, neighbours: jax.Array, targets: jax.Array,
                  ridge: float) -> jax.Array:
  """Each query's output under the ridge-regression linear map fitted to its
  own neighbours.

  Args:
    queries: ``(Q, D)``.
    neighbours: ``(Q, K, D)``, each query's ``K`` training vectors.
    targets: ``(Q, K, C)``, their targets.
    ridge: ``r``; the penalty is ``r trace(X X^T) / K``.

  Returns:
    ``(Q, C)``.
  """
  mean_x, mean_y = neighbours.mean(axis=1), targets.mean(axis=1)
  x = neighbours - mean_x[:, None, :]
  y = targets - mean_y[:, None, :]
  gram = jnp.einsum("qkd,qjd->qkj", x, x)                                   # (Q, K, K)
  k = gram.shape[-1]
  scale = jnp.trace(gram, axis1=1, axis2=2) / k
  penalty = (ridge * jnp.maximum(scale, 1e-12))[:, None, None] * jnp.eye(k, dtype=gram.dtype)
  along = jnp.einsum("qkd,qd->qk", x, queries - mean_x)                     # (Q, K)
  z = jnp.linalg.solve(gram + penalty, along[:, :, None])[:, :, 0]
  return mean_y + jnp.einsum("qk,qkc->qc", z, y)


@functools.partial(jax.jit, static_argnames=("neighbours", "chunk"))
def predict_local_all(queries: jax.Array, stored: jax.Array, labels: jax.Array,
                      ridges: jax.Array, *, neighbours: int, chunk: int = CHUNK) -> jax.Array:
  """``(R, Q)`` predicted classes of ``queries`` ``(Q, D)`` by local learning
  on their ``neighbours`` nearest ``stored`` ``(N, D)`` (labels ``(N,)``),
  one row per ridge of ``ridges`` ``(R,)``."""
  q = queries.shape[0]
  _, index = nearest(queries, stored, k=neighbours)
  padded = jnp.pad(queries, ((0, -q % chunk), (0, 0)))
  index = jnp.pad(index, ((0, -q % chunk), (0, 0)))

  def one(block: tuple[jax.Array, jax.Array]) -> jax.Array:
    x, i = block
    outputs = jax.vmap(lambda r: local_outputs(x, stored[i], one_hot_targets(labels[i]), r))(
        ridges)
    return jnp.argmax(outputs, axis=-1)                                      # (R, chunk)

  classes = jax.lax.map(one, (padded.reshape(-1, chunk, queries.shape[1]),
                              index.reshape(-1, chunk, neighbours)))        # (B, R, chunk)
  return jnp.moveaxis(classes, 1, 0).reshape(ridges.shape[0], -1)[:, :q]


def fit_local(train: jax.Array, labels: jax.Array, valid: jax.Array, valid_labels: jax.Array,
              *, neighbours: Sequence[int] = NEIGHBOURS, ridges: Sequence[float] = RIDGES
              ) -> tuple[dict[str, jax.Array], dict[str, float]]:
  """Store ``train`` ``(N, D)``; choose K among ``neighbours`` and ``r``
  among ``ridges`` by the validation error (the first best pair)."""
  grid = jnp.asarray(ridges, jnp.float32)
  errors = {}
  for k in neighbours:
    wrong = jnp.mean(predict_local_all(valid, train, labels, grid, neighbours=k)
                     != valid_labels[None], axis=1)
    errors.update({(k, float(r)): float(e) for r, e in zip(ridges, wrong)})
  k, r = min(errors, key=errors.get)
  return {"train": train, "labels": labels, "k": k, "ridge": r}, {"k": k, "ridge": r}


def predict_local(state: dict[str, jax.Array], x: jax.Array) -> jax.Array:
  return predict_local_all(x, state["train"], state["labels"],
                           jnp.asarray([state["ridge"]], jnp.float32),
                           neighbours=state["k"])[0]
