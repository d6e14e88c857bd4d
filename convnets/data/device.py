"""Data kept on the accelerator: shuffling and batching with ``jax.random``.

The whole split is uploaded once as uint8 (50,000 x 28 x 28 = 39 MB); each
epoch draws a permutation on the device and every step gathers its batch from
it inside the jitted step, so the training loop never waits on the host.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from convnets.data.mnist import Split


@flax.struct.dataclass
class DeviceSplit:
  """A split on the device, padded to a whole number of evaluation chunks.

  ``images`` ``(M, 28, 28)`` uint8, ``labels`` ``(M,)`` int32 and ``weights``
  ``(M,)`` float32 (1 for real examples, 0 for the padding), ``M >= size``.
  """
  images: jax.Array
  labels: jax.Array
  weights: jax.Array
  size: int = flax.struct.field(pytree_node=False)


def to_device(split: Split, multiple: int = 1) -> DeviceSplit:
  """Upload ``split``, zero-padded to a multiple of ``multiple`` examples."""
  n = len(split)
  padded = -(-n // multiple) * multiple
  pad = padded - n
  images = np.concatenate([split.images, np.zeros((pad,) + split.images.shape[1:], np.uint8)])
  labels = np.concatenate([split.labels, np.zeros((pad,), np.int32)])
  weights = np.concatenate([np.ones((n,), np.float32), np.zeros((pad,), np.float32)])
  return DeviceSplit(jnp.asarray(images), jnp.asarray(labels), jnp.asarray(weights), n)


def epoch_permutation(key: jax.Array, size: int) -> jax.Array:
  """A random order of ``range(size)`` for one epoch, ``(size,)`` int32."""
  return jax.random.permutation(key, size).astype(jnp.int32)


def batch_at(split: DeviceSplit, order: jax.Array, index: jax.Array, batch_size: int
             ) -> tuple[jax.Array, jax.Array]:
  """Batch ``index`` of an epoch in ``order``: ``(images (B, 28, 28), labels (B,))``.

  ``index`` may be traced; only whole batches are drawn (the remainder of the
  permutation is skipped this epoch and met in another order the next).
  """
  rows = jax.lax.dynamic_slice_in_dim(order, index * batch_size, batch_size)
  return split.images[rows], split.labels[rows]
