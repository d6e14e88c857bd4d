"""Linear classifiers on the pixels: LeCun et al. 1998, Section V.A.1 and 2.

* ``linear``: "a simple linear classifier": each of 10 output units computes
  a weighted sum of the pixels plus a bias, and the unit with the highest sum
  gives the class (a one-layer network, 7,850 weights).
* ``pairwise``: "each unit of the single layer is trained to separate each
  class i from each other class j" (45 units, trained on the patterns of
  their two classes only, +1 for class i and -1 for class j); the class
  with the most of its pairwise votes wins.

Both are trained as the networks of the time were: by minibatch gradient
descent on the mean squared error to +-1 targets, from zero weights; the
seed sets the order of the examples.

* ``least_squares``: the same 10 units as ``linear`` at the minimum of the
  same criterion, solved in closed form (regularised least squares,
  :mod:`convnets.classical.ridge`, the ridge chosen on the validation
  split): what any training of the squared error on these digits can reach,
  so it tells an underfit descent from the criterion's own limit.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from convnets.classical.ridge import fit_ridge, one_hot_targets

PAIRS = np.array(list(itertools.combinations(range(10), 2)), np.int32)  # (45, 2): i < j


def with_bias(x: jax.Array) -> jax.Array:
  """``(N, D)`` -> ``(N, D + 1)``: a constant 1 appended, the bias's input."""
  return jnp.concatenate([x, jnp.ones((x.shape[0], 1), x.dtype)], axis=1)


def squared_error(w: jax.Array, x: jax.Array, targets: jax.Array, mask: jax.Array
                  ) -> jax.Array:
  """Half the squared error of the units ``x @ w`` ``(B, U)`` to ``targets``
  ``(B, U)``, summed over the units each example trains (``mask``) and
  averaged over the batch."""
  return 0.5 * jnp.mean(jnp.sum(mask * (x @ w - targets) ** 2, axis=1))


def train_units(x: jax.Array, targets: jax.Array, mask: jax.Array, *, key: jax.Array,
                epochs: int, batch_size: int, learning_rate: float) -> jax.Array:
  """Weights ``(D, U)`` of ``U`` linear units on inputs ``x`` ``(N, D)``,
  by ``epochs`` passes of minibatch gradient descent on
  :func:`squared_error`, from zero; each pass visits the examples in a fresh
  random order (the last ``N mod batch_size`` of it left out)."""
  steps = x.shape[0] // batch_size
  grad = jax.grad(squared_error)

  def epoch(w: jax.Array, epoch_key: jax.Array) -> tuple[jax.Array, None]:
    order = jax.random.permutation(epoch_key, x.shape[0])[:steps * batch_size]

    def step(w: jax.Array, batch: jax.Array) -> tuple[jax.Array, None]:
      return w - learning_rate * grad(w, x[batch], targets[batch], mask[batch]), None

    return jax.lax.scan(step, w, order.reshape(steps, batch_size))[0], None

  w = jnp.zeros((x.shape[1], targets.shape[1]), x.dtype)
  return jax.lax.scan(epoch, w, jax.random.split(key, epochs))[0]


train_units_jit = jax.jit(train_units, static_argnames=("epochs", "batch_size"))


def pairwise_targets(labels: jax.Array) -> tuple[jax.Array, jax.Array]:
  """``(N, 45)`` targets and mask of the pairwise units: unit ``(i, j)``
  wants +1 for class ``i``, -1 for class ``j``, and trains on those two only."""
  first = labels[:, None] == PAIRS[None, :, 0]
  second = labels[:, None] == PAIRS[None, :, 1]
  return first.astype(jnp.float32) - second.astype(jnp.float32), (first | second).astype(
      jnp.float32)


def pairwise_votes(outputs: jax.Array) -> jax.Array:
  """``(N, 45)`` unit outputs -> ``(N, 10)`` class scores: each unit's vote
  (class ``i`` when its output is positive, else ``j``), ties between classes
  broken by the sum of their units' signed outputs (scaled below one vote)."""
  to_i = (outputs > 0).astype(jnp.float32)
  first, second = jax.nn.one_hot(PAIRS[:, 0], 10), jax.nn.one_hot(PAIRS[:, 1], 10)  # (45, 10)
  votes = to_i @ first + (1 - to_i) @ second
  margin = outputs @ (first - second)
  return votes + 1e-3 * jnp.tanh(margin)


def fit_linear(train: jax.Array, labels: jax.Array, valid: jax.Array, valid_labels: jax.Array,
               *, key: jax.Array, epochs: int = 20, batch_size: int = 32,
               learning_rate: float = 0.005) -> tuple[dict[str, jax.Array], dict[str, float]]:
  """The 10-unit linear classifier on ``train`` ``(N, D)`` (nothing is
  chosen on ``valid``); its weights ``(D + 1, 10)``."""
  del valid, valid_labels
  targets = one_hot_targets(labels)
  w = train_units_jit(with_bias(train), targets, jnp.ones_like(targets), key=key, epochs=epochs,
                      batch_size=batch_size, learning_rate=learning_rate)
  return {"w": w}, {}


def predict_linear(state: dict[str, jax.Array], x: jax.Array) -> jax.Array:
  return jnp.argmax(with_bias(x) @ state["w"], axis=1)


def fit_least_squares(train: jax.Array, labels: jax.Array, valid: jax.Array,
                      valid_labels: jax.Array, *, key: jax.Array
                      ) -> tuple[dict[str, jax.Array], dict[str, float]]:
  """The 10 units minimising the squared error to +-1 targets on ``train``
  ``(N, D)`` plus a ridge chosen on ``valid``; weights ``(D + 1, 10)`` as
  :func:`fit_linear`'s, so :func:`predict_linear` applies them."""
  del key
  w, chosen = fit_ridge(with_bias(train), labels, with_bias(valid), valid_labels)
  return {"w": w}, {"ridge": chosen}


def fit_pairwise(train: jax.Array, labels: jax.Array, valid: jax.Array,
                 valid_labels: jax.Array, *, key: jax.Array, epochs: int = 20,
                 batch_size: int = 32, learning_rate: float = 0.005
                 ) -> tuple[dict[str, jax.Array], dict[str, float]]:
  """The 45 pairwise units on ``train`` ``(N, D)``, trained together (each
  on its own two classes); their weights ``(D + 1, 45)``."""
  del valid, valid_labels
  targets, mask = pairwise_targets(labels)
  w = train_units_jit(with_bias(train), targets, mask, key=key, epochs=epochs,
                      batch_size=batch_size, learning_rate=learning_rate)
  return {"w": w}, {}


def predict_pairwise(state: dict[str, jax.Array], x: jax.Array) -> jax.Array:
  return jnp.argmax(pairwise_votes(with_bias(x) @ state["w"]), axis=1)
