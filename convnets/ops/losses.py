"""Training criteria on logits ``(N, classes)`` and integer labels ``(N,)``."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array,
                          label_smoothing: float = 0.0) -> jax.Array:
  """Per-example cross-entropy between a target distribution ``t`` and
  ``softmax(logits)``, shape ``(N,)``: ``-sum_k t_k log softmax(logits)_k``.

  With ``label_smoothing = 0`` the target is the one-hot label and this is
  ``-log softmax(logits)[label]``. With ``label_smoothing = e`` the target
  gives ``1 - e`` to the label and spreads ``e`` evenly over all ``K``
  classes, ``t = (1 - e) onehot + e / K`` (Szegedy et al. 2016, "Rethinking
  the Inception architecture", Section 7): the loss becomes
  ``(1 - e) * (-log p_label) + e * mean_k(-log p_k)``, whose minimum is at
  finite logits, so the network stops growing them to be ever surer. Its
  gradient with respect to the logits is ``softmax(logits) - t``.

  ``log_softmax`` subtracts the largest logit first, so large logits neither
  overflow nor lose the label's term to rounding.
  """
  log_p = jax.nn.log_softmax(logits, axis=-1)
  label_term = -jnp.take_along_axis(log_p, labels[:, None], axis=-1)[:, 0]
  if not label_smoothing:
    return label_term
  return (1.0 - label_smoothing) * label_term - label_smoothing * log_p.mean(axis=-1)


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Per-example 1.0 where ``argmax(logits) == label``, else 0.0; shape ``(N,)``."""
  return (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)
