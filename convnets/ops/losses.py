"""Training criteria on logits ``(N, classes)`` and integer labels ``(N,)``."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Per-example ``-log softmax(logits)[label]``, shape ``(N,)``.

  ``log_softmax`` subtracts the largest logit first, so large logits neither
  overflow nor lose the label's term to rounding.
  """
  return -jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), labels[:, None],
                              axis=-1)[:, 0]


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Per-example 1.0 where ``argmax(logits) == label``, else 0.0; shape ``(N,)``."""
  return (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)
