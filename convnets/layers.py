"""Flax (linen) layers: parameters plus a call to a pure op in :mod:`convnets.ops`.

Each layer only declares its parameters (shapes, initialisers) and calls the
op; the mathematics, its shapes and its citations live with the op.
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from convnets import ops
from convnets.ops import normalisation
from convnets.ops.conv import IntOrPair, Padding

Initializer = Callable[..., jax.Array]

# Activations f with max(f(a), f(b)) == f(max(a, b)): for these, max-pooling
# commutes with the transfer function and with adding a per-map bias.
MONOTONE_ACTIVATIONS = frozenset(
    {"sigmoid", "tanh", "lecun_tanh", "relu", "leaky_relu", "elu", "softplus", "identity"})


class Conv2D(nn.Module):
  """Feature maps from local receptive fields with shared weights.

  ``(N, H, W, C_in) -> (N, out_h, out_w, features)``; parameters ``kernel``
  ``(kh, kw, C_in, features)`` and ``bias`` ``(features,)``. See
  :func:`convnets.ops.conv2d` for ``mode``, ``stride``, ``padding``, ``impl``.
  """
  features: int
  kernel_size: IntOrPair = 5
  mode: str = "xcorr"
  stride: IntOrPair = 1
  padding: Padding = "VALID"
  impl: str = "auto"
  use_bias: bool = True
  kernel_init: Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array, add_bias: bool = True, max_pool: IntOrPair | None = None
               ) -> jax.Array | tuple[jax.Array, jax.Array | None]:
    """Feature maps; with ``add_bias=False``, ``(maps without bias, bias)``.
    With ``max_pool`` (stride 1 only), the maps without bias max-pooled over
    non-overlapping regions of that size (:func:`convnets.ops.conv2d_max_pool`),
    and the bias: ``(pooled maps, bias)``."""
    kh, kw = ops.windows.as_pair(self.kernel_size, "kernel_size")
    kernel = self.param("kernel", self.kernel_init, (kh, kw, x.shape[-1], self.features))
    bias = (self.param("bias", nn.initializers.zeros, (self.features,))
            if self.use_bias else None)
    if max_pool is not None:
      if ops.windows.as_pair(self.stride, "stride") != (1, 1):
        raise ValueError(f"max_pool needs a stride-1 convolution, got stride {self.stride}")
      return ops.conv2d_max_pool(x, kernel, pool=max_pool, mode=self.mode, padding=self.padding,
                                 impl=self.impl), bias
    if add_bias:
      return ops.conv2d(x, kernel, bias, mode=self.mode, stride=self.stride,
                        padding=self.padding, impl=self.impl)
    return ops.conv2d(x, kernel, mode=self.mode, stride=self.stride,
                      padding=self.padding, impl=self.impl), bias


class Pool2D(nn.Module):
  """Pooling of each feature map (:func:`convnets.ops.pool2d`).

  With ``kind="lp"`` and ``learnable_p=True`` the exponent is a parameter,
  kept >= 1 as ``p = 1 + softplus(rho)`` and initialised at ``p``.
  """
  kind: str = "max"
  window: IntOrPair = 2
  stride: IntOrPair | None = None
  p: float = 2.0
  learnable_p: bool = False
  padding: Padding = "VALID"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    p = self.p
    if self.kind == "lp" and self.learnable_p:
      if self.p <= 1:
        raise ValueError(f"a learnable p starts above 1, got p={self.p}")
      # softplus^-1(p - 1), a strongly typed float32: a weakly typed initial
      # value would turn strong after the first update and recompile the step.
      rho0 = jnp.asarray(np.log(np.expm1(self.p - 1.0)), jnp.float32)
      rho = self.param("rho", lambda _: rho0)
      p = 1.0 + jax.nn.softplus(rho)
    return ops.pool2d(x, kind=self.kind, window=self.window, stride=self.stride,
                      p=p, padding=self.padding)


class BatchNorm(nn.Module):
  """Batch normalisation of the last axis (:func:`convnets.ops.normalisation.batch_norm`).

  Parameters ``scale`` (gamma, initialised by ``scale_init``, default 1) and
  ``bias`` (beta, 0), ``(C,)``; the running averages ``mean`` (0) and ``var``
  (1) live in the ``batch_stats`` collection, updated in training when that
  collection is mutable and left alone at initialisation.
  """
  momentum: float = 0.9
  epsilon: float = 1e-5
  scale_init: Initializer = nn.initializers.ones

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    channels = x.shape[-1]
    scale = self.param("scale", self.scale_init, (channels,))
    bias = self.param("bias", nn.initializers.zeros, (channels,))
    mean = self.variable("batch_stats", "mean", jnp.zeros, (channels,), jnp.float32)
    var = self.variable("batch_stats", "var", jnp.ones, (channels,), jnp.float32)
    y, (new_mean, new_var) = normalisation.batch_norm(
        x, scale, bias, mean.value, var.value, train=train, momentum=self.momentum,
        epsilon=self.epsilon)
    if train and not self.is_initializing():
      mean.value, var.value = new_mean, new_var
    return y


class ConvPool(nn.Module):
  """Convolution -> transfer function -> pooling: the lecture's
  "convolutional + pooling layer" (``pooling="none"`` skips the pooling).

  For max-pooling after a monotone transfer function the layer computes
  ``f(maxpool(conv(x)) + b)`` instead of ``maxpool(f(conv(x) + b))``: the
  same numbers, with the bias and ``f`` applied to 4x fewer units; over
  non-overlapping regions of a stride-1 convolution, ``maxpool(conv(x))`` is
  one op (:func:`convnets.ops.conv2d_max_pool`, by phases where measured faster).

  With ``batch_norm`` the maps are batch-normalised before the transfer
  function (Ioffe & Szegedy 2015, Section 3.2: ``f(BN(W x))``, the
  convolution's bias dropped because BN's shift ``beta`` takes its place),
  then pooled: ``pool(f(BN(conv(x))))``. BN's per-map scale may be negative,
  so it does not commute with max-pooling and is applied to every unit.

  ``kernel_init`` initialises the convolution's kernel ``(kh, kw, C_in, features)``.
  """
  features: int
  kernel_size: IntOrPair = 5
  activation: str = "relu"
  mode: str = "xcorr"
  stride: IntOrPair = 1
  padding: Padding = "VALID"
  impl: str = "auto"
  pooling: str = "max"
  pool_window: IntOrPair = 2
  pool_stride: IntOrPair | None = None
  p: float = 2.0
  learnable_p: bool = False
  batch_norm: bool = False
  kernel_init: Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    act = ops.get_activation(self.activation)
    conv = Conv2D(features=self.features, kernel_size=self.kernel_size, mode=self.mode,
                  stride=self.stride, padding=self.padding, impl=self.impl,
                  use_bias=not self.batch_norm, kernel_init=self.kernel_init, name="conv")
    pool = (lambda maps: maps) if self.pooling == "none" else Pool2D(
        kind=self.pooling, window=self.pool_window, stride=self.pool_stride, p=self.p,
        learnable_p=self.learnable_p, name="pool")
    if self.batch_norm:
      return pool(act(BatchNorm(name="bn")(conv(x), train)))
    if self.pooling == "none":
      return act(conv(x))
    if self.pooling == "max" and self.activation in MONOTONE_ACTIVATIONS:
      regions = ops.windows.as_pair(self.pool_window, "pool_window")
      stride = regions if self.pool_stride is None else ops.windows.as_pair(
          self.pool_stride, "pool_stride")
      if stride == regions and ops.windows.as_pair(self.stride, "stride") == (1, 1):
        pooled, bias = conv(x, add_bias=False, max_pool=regions)
        return act(pooled + bias)
      maps, bias = conv(x, add_bias=False)
      return act(pool(maps) + bias)
    return pool(act(conv(x)))


class Dense(nn.Module):
  """Fully connected layer: ``(N, D_in) -> (N, features)`` (:func:`convnets.ops.dense`)."""
  features: int
  use_bias: bool = True
  kernel_init: Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features))
    bias = (self.param("bias", nn.initializers.zeros, (self.features,))
            if self.use_bias else None)
    return ops.dense(x, kernel, bias)


def hidden_layers(x: jax.Array, sizes: Sequence[int], activation: str, *,
                  batch_norm: bool = False, dropout: float = 0.0, train: bool = False
                  ) -> jax.Array:
  """Fully connected hidden layers, ``(N, D) -> (N, sizes[-1])``, each
  ``dropout(f(BN(W x)))`` (BN with ``batch_norm``, replacing the bias; dropout
  with ``dropout > 0``), as submodules ``hidden1``, ``hidden1_bn``, ...
  of the calling module (call it from a compact method).

  Dropout (Srivastava et al. 2014, "Dropout: A Simple Way to Prevent Neural
  Networks from Overfitting") zeroes each hidden unit with probability
  ``dropout`` in training and scales the survivors by ``1 / (1 - dropout)``,
  so that the expected input of the next layer is unchanged and evaluation
  (``train=False``) uses the whole network as it is. Its mask is drawn from
  the ``"dropout"`` PRNG stream that the training step supplies.
  """
  act = ops.get_activation(activation)
  for i, units in enumerate(sizes):
    name = f"hidden{i + 1}"
    x = Dense(units, use_bias=not batch_norm, name=name)(x)
    if batch_norm:
      x = BatchNorm(name=f"{name}_bn")(x, train)
    x = act(x)
    if dropout:
      x = nn.Dropout(dropout, deterministic=not train, name=f"{name}_dropout")(x)
  return x


def check_dropout(rate: float) -> None:
  """A ValueError unless ``0 <= rate < 1`` (rate 1 would drop every unit)."""
  if not 0 <= rate < 1:
    raise ValueError(f"dropout rate must be in [0, 1), got {rate!r}")
