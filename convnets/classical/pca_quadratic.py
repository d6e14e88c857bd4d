"""40 PCA + quadratic classifier: LeCun et al. 1998, Section V.A.4. "The
input pattern is projected on the 40 principal components of the set of
training vectors ... the 40-dimensional feature vector was then expanded
into 821 features by computing all products of pairs of input variables"
(820 products, squares included, and a constant); we add the 40 components
themselves (861 features), so that a linear classifier on the expansion is
every second-degree polynomial of the projections.
The linear layer is fitted by regularised least squares (:mod:`ridge`), its
ridge chosen on the validation split.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from convnets.classical.ridge import fit_ridge

COMPONENTS = 40


def fit_pca(train: jax.Array, components: int) -> tuple[jax.Array, jax.Array]:
  """The training mean ``(D,)`` and the ``components`` leading principal
  directions ``(D, components)`` (eigenvectors of the covariance, largest
  eigenvalue first)."""
  mean = train.mean(axis=0)
  centred = train - mean
  values, vectors = jnp.linalg.eigh(centred.T @ centred / train.shape[0])
  return mean, vectors[:, ::-1][:, :components]


def quadratic_features(z: jax.Array) -> jax.Array:
  """``(N, P)`` -> ``(N, 1 + P + P (P + 1) / 2)``: a constant, the ``P``
  variables and every product ``z_i z_j``, ``i <= j`` (861 for P = 40)."""
  i, j = np.triu_indices(z.shape[1])
  return jnp.concatenate([jnp.ones((z.shape[0], 1), z.dtype), z, z[:, i] * z[:, j]], axis=1)


def fit_pca_quadratic(train: jax.Array, labels: jax.Array, valid: jax.Array,
                      valid_labels: jax.Array, *, key: jax.Array, components: int = COMPONENTS
                      ) -> tuple[dict[str, jax.Array], dict[str, float]]:
  """PCA on ``train`` ``(N, D)``, then the quadratic expansion's linear layer."""
  del key
  mean, directions = fit_pca(train, components)
  expand = lambda x: quadratic_features((x - mean) @ directions)
  w, ridge = fit_ridge(expand(train), labels, expand(valid), valid_labels)
  return {"mean": mean, "directions": directions, "w": w}, {"ridge": ridge}


def predict_pca_quadratic(state: dict[str, jax.Array], x: jax.Array) -> jax.Array:
  z = (x - state["mean"]) @ state["directions"]
  return jnp.argmax(quadratic_features(z) @ state["w"], axis=1)
