"""Batch normalisation as pure functions (Ioffe & Szegedy 2015, "Batch
Normalization: Accelerating Deep Network Training by Reducing Internal
Covariate Shift").

Each channel (feature map, or hidden unit) ``k`` of a layer's pre-activations
is normalised over the mini-batch ``B`` and then given a learnt scale and shift
(Algorithm 1)::

    mu_B = mean_B(x_k)      sigma2_B = mean_B((x_k - mu_B)^2)
    y_k = gamma_k (x_k - mu_B) / sqrt(sigma2_B + eps) + beta_k

For a convolutional layer the batch is every position of every example,
``m = N * H * W`` values per map, so that all units of a feature map are
normalised alike and the map stays a convolution (Section 3.2).

At test time the network must be a fixed function of one example, so the
batch statistics are replaced by population estimates: here exponential
running averages over training steps, with the variance estimated without
bias, ``m / (m - 1) sigma2_B`` (Algorithm 2, step 10).

Arrays: ``x`` is ``(N, ..., C)`` (NHWC maps or ``(N, D)`` hidden units);
statistics, ``gamma`` (``scale``) and ``beta`` (``bias``) are ``(C,)``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def batch_moments(x: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Per-channel mean and (biased) variance over every axis but the last:
  ``(N, ..., C) -> ((C,), (C,))``."""
  axes = tuple(range(x.ndim - 1))
  mean = x.mean(axis=axes)
  return mean, jnp.square(x - mean).mean(axis=axes)


def normalise(x: jax.Array, mean: jax.Array, var: jax.Array, scale: jax.Array,
              bias: jax.Array, epsilon: float) -> jax.Array:
  """``scale * (x - mean) / sqrt(var + epsilon) + bias``, per channel (the last axis)."""
  return (x - mean) * (scale * jax.lax.rsqrt(var + epsilon)) + bias


def update_running(running_mean: jax.Array, running_var: jax.Array, mean: jax.Array,
                   var: jax.Array, count: int, momentum: float
                   ) -> tuple[jax.Array, jax.Array]:
  """Exponential running averages of the batch statistics:
  ``r <- momentum * r + (1 - momentum) * s``, with the variance made unbiased
  (``count / (count - 1) * var``, ``count`` the values per channel) first."""
  unbiased = var * (count / max(count - 1, 1))
  return (momentum * running_mean + (1 - momentum) * mean,
          momentum * running_var + (1 - momentum) * unbiased)


def batch_norm(x: jax.Array, scale: jax.Array, bias: jax.Array, running_mean: jax.Array,
               running_var: jax.Array, *, train: bool, momentum: float = 0.9,
               epsilon: float = 1e-5) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
  """Batch-normalise ``x`` and return ``(y, (running_mean, running_var))``.

  Args:
    x: ``(N, ..., C)``.
    scale, bias: ``gamma`` and ``beta``, ``(C,)``.
    running_mean, running_var: the population estimates so far, ``(C,)``.
    train: normalise by this batch's statistics and update the running
      averages with them; otherwise normalise by the running averages, which
      are returned unchanged.
    momentum: weight of the old running average in the update.
    epsilon: added to the variance, so a constant channel is not divided by 0.

  Returns:
    ``y`` of ``x``'s shape, and the (updated) running averages.
  """
  if not train:
    return normalise(x, running_mean, running_var, scale, bias, epsilon), (running_mean,
                                                                           running_var)
  mean, var = batch_moments(x)
  count = math.prod(x.shape[:-1])
  running = update_running(running_mean, running_var, mean, var, count, momentum)
  return normalise(x, mean, var, scale, bias, epsilon), running
