"""PCA and ZCA whitening: decorrelate the pixels and give them unit variance.

With ``x`` an image unrolled to ``D`` pixels, ``mu`` the training images'
mean and ``C = U diag(lambda) U^T`` their covariance (eigenvectors ``U``,
eigenvalues ``lambda``), a whitening matrix ``W`` makes ``z = W (x - mu)``
have covariance ``W C W^T = I`` (LeCun, Bottou, Orr & Mueller 1998, "Efficient
BackProp", Section 4.3: decorrelated, equal-variance inputs condition the
error surface best; Bell & Sejnowski 1997 for ZCA):

* PCA whitening, ``W = diag(lambda + eps)^(-1/2) U^T``: the coordinates along
  the principal components, each scaled to unit variance, largest first.
  Pixel ``k`` of the result is component ``k``: the image's spatial layout is
  gone.
* ZCA whitening, ``W = U diag(lambda + eps)^(-1/2) U^T``: the PCA-whitened
  data rotated back into pixel space. Of all whitening matrices it moves the
  data least (``E||z - (x - mu)||^2`` is minimal), so the result still looks
  like an image, with edges enhanced: what a convolutional layer needs.

``eps`` regularises: components with ``lambda << eps`` (MNIST's always-blank
border pixels have ``lambda = 0``) are not blown up from noise, and the
whitened covariance is ``U diag(lambda / (lambda + eps)) U^T``, the identity
on the components that carry the data.

The fit is NumPy on the host, in float64, once per training split; applying
``W`` is one ``(D, D)`` matrix product per image, on the device.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

KINDS = ("pca", "zca")
CHUNK = 5_000  # rows per float64 block while summing the covariance (~31 MB for MNIST)


@dataclasses.dataclass(frozen=True)
class Whitening:
  """A fitted whitening: ``z = (x - mean) @ matrix.T``; ``mean`` ``(D,)``,
  ``matrix`` ``(D, D)``, float32."""
  mean: np.ndarray
  matrix: np.ndarray


def covariance(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Mean ``(D,)`` and covariance ``(D, D)`` (normalised by ``N``) of the rows
  of ``x`` ``(N, D)``, in float64, summed in blocks so that a uint8 or
  float32 ``x`` is never copied whole to float64."""
  n = len(x)
  mean = sum(x[i:i + CHUNK].astype(np.float64).sum(axis=0) for i in range(0, n, CHUNK)) / n
  scatter = np.zeros((x.shape[1], x.shape[1]))
  for i in range(0, n, CHUNK):
    block = x[i:i + CHUNK].astype(np.float64) - mean
    scatter += block.T @ block
  return mean, scatter / n


def fit_whitening(x: np.ndarray, kind: str, epsilon: float) -> Whitening:
  """The ``kind`` (``"pca"`` or ``"zca"``) whitening of the rows of ``x`` ``(N, D)``.

  PCA components are ordered by decreasing variance; each eigenvector's sign
  is fixed so that its largest entry is positive (``eigh``'s signs are
  arbitrary, and a fit should not depend on them).
  """
  if kind not in KINDS:
    raise ValueError(f"unknown whitening {kind!r}; known: {', '.join(KINDS)}")
  if epsilon < 0:
    raise ValueError(f"whitening epsilon must be >= 0, got {epsilon}")
  mean, cov = covariance(x)
  eigenvalues, vectors = np.linalg.eigh(cov)
  order = np.argsort(eigenvalues)[::-1]
  eigenvalues = np.clip(eigenvalues[order], 0.0, None)  # round-off can make 0 slightly negative
  vectors = vectors[:, order]
  peaks = vectors[np.argmax(np.abs(vectors), axis=0), np.arange(vectors.shape[1])]
  vectors = vectors * np.sign(peaks)
  pca = vectors.T / np.sqrt(eigenvalues + epsilon)[:, None]
  matrix = pca if kind == "pca" else vectors @ pca
  return Whitening(mean.astype(np.float32), matrix.astype(np.float32))


def whiten(x: jax.Array, whitening: Whitening) -> jax.Array:
  """``(N, D) -> (N, D)``: ``(x - mean) @ matrix.T``."""
  return (x - jnp.asarray(whitening.mean)) @ jnp.asarray(whitening.matrix).T
