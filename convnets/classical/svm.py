"""Support vector machines with polynomial kernels: LeCun et al. 1998,
Section V.A.9 (after Cortes & Vapnik 1995, Burges & Schölkopf 1997).

* ``svm``: a soft-margin SVM with the kernel ``K(x, y) = (gamma x.y + 1)^d``,
  one-against-one over the 45 pairs of classes ("SVM poly 4": d = 4, on
  deslanted digits).
* ``rs_svm``: the paper's reduced-set SVM ("RS-SVM poly 5", Burges 1996)
  approximates the trained decision surface with far fewer vectors, found by
  an unconstrained optimisation we do not reproduce. Nearest practical
  equivalent: the SVM is trained, its support vectors of each class are
  replaced by ``reduction`` times fewer K-means centres of them
  (:func:`convnets.classical.rbf.lloyd`), and an SVM with the same kernel is
  refitted on those centres, so the classifier keeps the cost the reduced
  set buys (``reduction`` times fewer kernel evaluations per test digit).
* ``v_svm``: the virtual-support-vector SVM ("V-SVM poly 9 [dist]",
  Schölkopf, Burges & Vapnik 1996): an SVM is trained, then retrained on its
  support vectors and their copies shifted by one pixel in each of the four
  directions (the distortions that the virtual vectors of the paper encode).

The solver is scikit-learn's ``SVC`` (libsvm's SMO): a JAX dual solver would
be a home-made toy against the standard one. Kernel sums for prediction run
in libsvm too; the preprocessing, K-means and shifts are JAX.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from convnets.classical.rbf import lloyd

C = 10.0            # the soft margin's penalty (the paper does not give its)


def gamma(train: jax.Array) -> float:
  """``1 / (D var(x))``: scales ``x.y`` of typical digits to about 1, so
  that high degrees neither vanish nor explode."""
  return float(1.0 / (train.shape[1] * jnp.var(train)))


def fit_svc(x: jax.Array, labels: jax.Array, *, degree: int, gamma_: float,
            penalty: float = C) -> Any:
  """A fitted ``sklearn.svm.SVC`` with the kernel ``(gamma x.y + 1)^degree``."""
  from sklearn.svm import SVC  # heavy; only the SVM rows need it

  model = SVC(C=penalty, kernel="poly", degree=degree, gamma=gamma_, coef0=1.0,
              decision_function_shape="ovo", cache_size=2000)
  return model.fit(np.asarray(x, np.float64), np.asarray(labels))


def fitted(svc: Any, **counts: int) -> tuple[dict[str, Any], dict[str, Any]]:
  """The state of a fitted ``svc`` and, nothing being chosen on the
  validation split, no choices; ``counts`` (vectors at each stage) join the
  run's summary and, in words, its recipe."""
  note = "; ".join(f"{name.replace('_', ' ')} {count:,}" for name, count in counts.items())
  return {"svc": svc, "summary": {**counts, "note": note}}, {}


def predict_svm(state: dict[str, Any], x: jax.Array) -> jax.Array:
  return jnp.asarray(state["svc"].predict(np.asarray(x, np.float64)))


def fit_svm(train: jax.Array, labels: jax.Array, valid: jax.Array, valid_labels: jax.Array,
            *, key: jax.Array, degree: int = 4, penalty: float = C
            ) -> tuple[dict[str, Any], dict[str, float]]:
  """The SVM on ``train`` ``(N, D)``."""
  del valid, valid_labels, key
  svc = fit_svc(train, labels, degree=degree, gamma_=gamma(train), penalty=penalty)
  return fitted(svc, support_vectors=int(svc.support_vectors_.shape[0]))


def reduce_vectors(vectors: np.ndarray, labels: np.ndarray, reduction: int, key: jax.Array,
                   iterations: int = 20) -> tuple[jax.Array, jax.Array]:
  """Per class, ``ceil(n / reduction)`` K-means centres of its ``n`` vectors
  ``(n, D)``, started from distinct vectors drawn by ``key``; the centres
  ``(M, D)`` and their classes ``(M,)``."""
  centres, classes = [], []
  for digit, class_key in zip(np.unique(labels), jax.random.split(key, len(np.unique(labels)))):
    points = jnp.asarray(vectors[labels == digit], jnp.float32)
    count = -(-points.shape[0] // reduction)
    start = jax.random.choice(class_key, points.shape[0], (count,), replace=False)
    centres.append(lloyd(points, points[start], iterations=iterations)[0])
    classes.append(jnp.full((count,), digit, jnp.int32))
  return jnp.concatenate(centres), jnp.concatenate(classes)


def fit_rs_svm(train: jax.Array, labels: jax.Array, valid: jax.Array, valid_labels: jax.Array,
               *, key: jax.Array, degree: int = 5, reduction: int = 5, penalty: float = C
               ) -> tuple[dict[str, Any], dict[str, float]]:
  """The SVM, then one refitted on ``reduction`` times fewer vectors."""
  del valid, valid_labels
  scale = gamma(train)
  full = fit_svc(train, labels, degree=degree, gamma_=scale, penalty=penalty)
  centres, classes = reduce_vectors(full.support_vectors_, np.asarray(labels)[full.support_],
                                    reduction, key)
  svc = fit_svc(centres, classes, degree=degree, gamma_=scale, penalty=penalty)
  return fitted(svc, full_support_vectors=int(full.support_vectors_.shape[0]),
                reduced_vectors=int(centres.shape[0]),
                support_vectors=int(svc.support_vectors_.shape[0]))


def shifted(images: jax.Array, side: int) -> jax.Array:
  """``(N, side * side)`` -> ``(4 N, side * side)``: each image moved by one
  pixel left, right, up and down (background, 0, shifted in)."""
  square = images.reshape(-1, side, side)
  pad = jnp.pad(square, ((0, 0), (1, 1), (1, 1)))
  moves = [pad[:, 1:-1, 2:], pad[:, 1:-1, :-2], pad[:, 2:, 1:-1], pad[:, :-2, 1:-1]]
  return jnp.concatenate(moves).reshape(-1, side * side)


def fit_v_svm(train: jax.Array, labels: jax.Array, valid: jax.Array, valid_labels: jax.Array,
              *, key: jax.Array, degree: int = 9, penalty: float = C
              ) -> tuple[dict[str, Any], dict[str, float]]:
  """The SVM, then one retrained on its support vectors and their shifts."""
  del valid, valid_labels, key
  side = int(round(np.sqrt(train.shape[1])))
  scale = gamma(train)
  first = fit_svc(train, labels, degree=degree, gamma_=scale, penalty=penalty)
  vectors = jnp.asarray(first.support_vectors_, jnp.float32)
  classes = np.asarray(labels)[first.support_]
  virtual = jnp.concatenate([vectors, shifted(vectors, side)])
  svc = fit_svc(virtual, np.tile(classes, 5), degree=degree, gamma_=scale, penalty=penalty)
  return fitted(svc, first_support_vectors=int(vectors.shape[0]),
                virtual_examples=int(virtual.shape[0]),
                support_vectors=int(svc.support_vectors_.shape[0]))
