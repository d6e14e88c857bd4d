"""Tangent distance on 16x16 images: Simard, LeCun & Denker 1993 ("Efficient
pattern recognition using a new transformation distance", NIPS 5), the
"tangent distance classifier (TDC)" of LeCun et al. 1998, Section V.A.7:
"a nearest-neighbor method where the distance function is made insensitive
to small distortions and translations of the input image ... 16x16 pixel
images".

Each image ``x`` spans, to first order, the plane ``x + T_x a`` of its small
transformations; ``T_x`` ``(7, D)`` holds its tangent vectors, the images'
derivatives along Simard's seven transformations: horizontal and vertical
translation, rotation, scaling, parallel and diagonal hyperbolic
deformation, and thickening. The two-sided tangent distance between ``x``
and ``y`` is the distance between their planes,

  ``min_{a, b} |x + T_x a - y - T_y b|^2 + reg (|a|^2 + |b|^2)``,

a 14-unknown least-squares problem per pair (``reg``: Simard's "spring"
that keeps the transformations small), solved here by its normal equations,
batched over every pair. A Euclidean pre-selection (the ``candidates``
nearest stored digits of each query, :func:`convnets.classical.knn.nearest`)
keeps the number of pairs to ``queries x candidates``; the K-nearest
neighbours by tangent distance then vote. K and the smoothing of the images
the tangents are taken of are chosen on the validation split: the
derivatives of a finite-difference image are only as good as its smoothing
(Simard et al. smooth before differentiating), and how much it should blur
depends on the pixel grid (here 16x16 digits).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from convnets.classical import knn

TRANSFORMATIONS = ("x-translation", "y-translation", "rotation", "scaling",
                   "parallel hyperbolic", "diagonal hyperbolic", "thickening")
SMOOTHINGS = (0.3, 0.5, 0.9)  # Gaussian sigmas (pixels) to choose from on validation
SPRING = 0.05       # reg: the transformations' penalty, against pixels in [0, 1]
CANDIDATES = 100    # Euclidean pre-selection per query
K_MAX = 5
CHUNK = 100         # queries per batch of pairs


def gaussian_matrix(size: int, sigma: float) -> np.ndarray:
  """``(size, size)``: ``G @ image @ G.T`` smooths a ``size x size`` image
  by a Gaussian of ``sigma`` pixels (each row normalised, zero outside)."""
  offsets = np.arange(size)[:, None] - np.arange(size)[None, :]
  g = np.exp(-0.5 * (offsets / sigma) ** 2)
  return (g / g.sum(axis=1, keepdims=True)).astype(np.float32)


def tangents(images: jax.Array, sigma: float) -> jax.Array:
  """``(N, H, W)`` -> ``(N, 7, H W)`` tangent vectors, in the order of
  ``TRANSFORMATIONS``: with ``I_x``, ``I_y`` the derivatives of the smoothed
  image along columns and rows and ``(x, y)`` each pixel's position from the
  centre, ``I_x``, ``I_y``, ``y I_x - x I_y``, ``x I_x + y I_y``,
  ``x I_x - y I_y``, ``y I_x + x I_y`` and ``I_x^2 + I_y^2``."""
  n, h, w = images.shape
  g_h, g_w = jnp.asarray(gaussian_matrix(h, sigma)), jnp.asarray(gaussian_matrix(w, sigma))
  smooth = jnp.einsum("ij,njk,lk->nil", g_h, images, g_w)
  i_y, i_x = jnp.gradient(smooth, axis=(1, 2))
  y = (jnp.arange(h, dtype=images.dtype) - (h - 1) / 2)[:, None]
  x = (jnp.arange(w, dtype=images.dtype) - (w - 1) / 2)[None, :]
  vectors = (i_x, i_y, y * i_x - x * i_y, x * i_x + y * i_y, x * i_x - y * i_y,
             y * i_x + x * i_y, i_x ** 2 + i_y ** 2)
  return jnp.stack(vectors, axis=1).reshape(n, len(TRANSFORMATIONS), h * w)


def two_sided(x: jax.Array, t_x: jax.Array, y: jax.Array, t_y: jax.Array,
              spring: float = SPRING) -> jax.Array:
  """Squared two-sided tangent distances of each query to its candidates.

  Args:
    x: ``(Q, D)`` queries; ``t_x`` ``(Q, 7, D)`` their tangents.
    y: ``(Q, C, D)`` each query's candidates; ``t_y`` ``(Q, C, 7, D)``.
    spring: the penalty on the transformation amounts.
  Returns ``(Q, C)``: ``|r - A c|^2 + spring |c|^2`` at the minimising
  ``c = (A^T A + spring I)^-1 A^T r``, with ``r = y - x`` and ``A = [T_x^T, -T_y^T]``.
  """
  r = y - x[:, None, :]                                                    # (Q, C, D)
  xx = jnp.einsum("qid,qjd->qij", t_x, t_x)
  yy = jnp.einsum("qcid,qcjd->qcij", t_y, t_y)
  xy = jnp.einsum("qid,qcjd->qcij", t_x, t_y)
  q, c = y.shape[:2]
  gram = jnp.concatenate([
      jnp.concatenate([jnp.broadcast_to(xx[:, None], (q, c, 7, 7)), -xy], axis=-1),
      jnp.concatenate([-jnp.swapaxes(xy, -1, -2), yy], axis=-1)], axis=-2)  # (Q, C, 14, 14)
  rhs = jnp.concatenate([jnp.einsum("qid,qcd->qci", t_x, r),
                         -jnp.einsum("qcid,qcd->qci", t_y, r)], axis=-1)    # A^T r
  regularised = gram + spring * jnp.eye(14, dtype=gram.dtype)
  amounts = jnp.linalg.solve(regularised, rhs[..., None])[..., 0]
  # |r - A c|^2 + spring |c|^2 = |r|^2 - c^T A^T r at the minimum.
  return jnp.sum(r ** 2, -1) - jnp.sum(amounts * rhs, -1)


@functools.partial(jax.jit, static_argnames=("side", "candidates", "smoothing", "chunk"))
def nearest(queries: jax.Array, stored: jax.Array, *, side: int,
            candidates: int = CANDIDATES, smoothing: float, spring: float = SPRING,
            chunk: int = CHUNK) -> tuple[jax.Array, jax.Array]:
  """Each query's ``candidates`` Euclidean-nearest stored digits re-ranked
  by tangent distance (tangents of images smoothed by ``smoothing`` pixels,
  the transformations penalised by ``spring``): distances and indices
  ``(Q, candidates)``, nearest first. Images are ``(N, side * side)``."""
  _, index = knn.nearest(queries, stored, k=candidates)
  q = queries.shape[0]
  pad = -q % chunk
  blocks = (jnp.pad(queries, ((0, pad), (0, 0))).reshape(-1, chunk, queries.shape[1]),
            jnp.pad(index, ((0, pad), (0, 0))).reshape(-1, chunk, candidates))

  def one(block: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
    x, idx = block
    y = stored[idx]                                                        # (chunk, C, D)
    t_x = tangents(x.reshape(-1, side, side), smoothing)
    t_y = tangents(y.reshape(-1, side, side), smoothing).reshape(chunk, candidates, 7, -1)
    distances = two_sided(x, t_x, y, t_y, spring)
    order = jnp.argsort(distances, axis=1)
    return jnp.take_along_axis(distances, order, 1), jnp.take_along_axis(idx, order, 1)

  distances, indices = jax.lax.map(one, blocks)
  return distances.reshape(-1, candidates)[:q], indices.reshape(-1, candidates)[:q]


def fit_tangent(train: jax.Array, labels: jax.Array, valid: jax.Array, valid_labels: jax.Array,
                *, key: jax.Array, candidates: int = CANDIDATES,
                smoothings: tuple[float, ...] = SMOOTHINGS, spring: float = SPRING,
                k_max: int = K_MAX) -> tuple[dict[str, jax.Array], dict[str, float]]:
  """Store ``train`` ``(N, side * side)``; choose the smoothing of
  ``smoothings`` and K in ``1..k_max`` with the lowest error on ``valid``
  (the first such pair, smoothings before K)."""
  del key
  side = int(round(np.sqrt(train.shape[1])))
  errors = {}
  for smoothing in smoothings:
    _, index = nearest(valid, train, side=side, candidates=candidates, smoothing=smoothing,
                       spring=spring)
    by_k = knn.errors_by_k(labels[index], valid_labels, k_max)
    errors.update({(smoothing, k): error for k, error in enumerate(by_k, start=1)})
  smoothing, k = min(errors, key=errors.get)
  settings = {"side": side, "candidates": candidates, "smoothing": smoothing, "spring": spring}
  return ({"train": train, "labels": labels, "k": k, "settings": settings},
          {"k": k, "smoothing": smoothing})


def predict_tangent(state: dict[str, jax.Array], x: jax.Array) -> jax.Array:
  _, index = nearest(x, state["train"], **state["settings"])
  return knn.vote(state["labels"][index], state["k"])
