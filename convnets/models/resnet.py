"""Residual networks and their plain counterparts (He, Zhang, Ren & Sun 2016,
"Deep Residual Learning for Image Recognition"), sized for MNIST.

A residual block computes ``y = f(F(x) + s(x))``: the *residual branch*
``F(x) = BN(conv3x3(f(BN(conv3x3(x)))))`` plus a *skip connection* ``s``,
the identity where ``x`` and ``F(x)`` have the same shape and a projection,
``BN(conv1x1(x))`` with the branch's stride, where the block halves the map
size and doubles the maps (their option B). The *plain* block is the same
without the skip, ``y = f(F(x))``. He et al. observed that deep plain nets
train *worse* than shallower ones (the degradation problem, their Fig. 1),
although a deeper net could copy the shallower one and make its extra layers
identities: a residual block whose branch is zero *is* the identity (on the
non-negative outputs of a ReLU), so the extra depth costs nothing to ignore.

The network (``depth`` 3x3 convolutions in the blocks, ``depth + 2`` weight
layers in all, as He et al. count their 6n + 2 layer CIFAR nets)::

  input 28x28x1 -> conv3x3 width, BN, f -> 2x2 max-pool (14x14)
    -> stage 1: depth / (2 stages) blocks of `width` maps, 14x14
    -> stage 2: the same with 2 * width maps, 7x7 (its first block strides 2)
    -> ... (each further stage halves the maps' size and doubles their number)
    -> global average pooling -> 10 outputs

The max-pool after the stem quarters the cost of every block (the blocks
dominate it), so that nets tens of layers deep train on a CPU. Weights are
initialised ``N(0, 2 / fan_in)`` (He et al. 2015, "Delving Deep into
Rectifiers"), which keeps the signal's variance through ReLU layers.

Convolutions default to XLA's own (``conv_impl="xla"``), not ``"auto"``:
on these many-map 3x3 layers (short patch rows) XLA's convolution and its
gradient are the fast path on CPU (``benchmarks/conv_pool.py``), GPU and TPU.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from convnets import ops
from convnets.layers import BatchNorm, Conv2D, Dense
from convnets.models.registry import register

HE_NORMAL = nn.initializers.variance_scaling(2.0, "fan_in", "normal")


class ConvBN(nn.Module):
  """``BN(conv(x))`` with SAME padding, or ``conv(x) + b`` without batch
  normalisation (BN's shift replaces the bias): ``(N, H, W, C) -> (N, H / s, W / s, features)``."""
  features: int
  kernel_size: int = 3
  stride: int = 1
  batch_norm: bool = True
  impl: str = "xla"

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    x = Conv2D(features=self.features, kernel_size=self.kernel_size, stride=self.stride,
               padding="SAME", impl=self.impl, use_bias=not self.batch_norm,
               kernel_init=HE_NORMAL, name="conv")(x)
    return BatchNorm(name="bn")(x, train) if self.batch_norm else x


class Block(nn.Module):
  """A residual block ``f(F(x) + s(x))``, or with ``residual=False`` a plain
  one ``f(F(x))``: ``(N, H, W, C) -> (N, H / stride, W / stride, features)``.

  The branch's layers are ``branch1`` and ``branch2``, the projection (when
  the shape changes) ``projection``.
  """
  features: int
  stride: int = 1
  residual: bool = True
  batch_norm: bool = True
  activation: str = "relu"
  impl: str = "xla"

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    act = ops.get_activation(self.activation)
    layer = lambda features, size, stride, name: ConvBN(
        features=features, kernel_size=size, stride=stride, batch_norm=self.batch_norm,
        impl=self.impl, name=name)
    branch = act(layer(self.features, 3, self.stride, "branch1")(x, train))
    branch = layer(self.features, 3, 1, "branch2")(branch, train)
    if not self.residual:
      return act(branch)
    if self.stride != 1 or x.shape[-1] != self.features:
      x = layer(self.features, 1, self.stride, "projection")(x, train)
    return act(branch + x)


class ResNet(nn.Module):
  """``(N, 28, 28, C) -> (N, classes)`` logits; see the module docstring.
  Blocks are named ``stage{s}_block{b}`` (from 1)."""
  depth: int = 8
  residual: bool = True
  width: int = 16
  stages: int = 2
  batch_norm: bool = True
  activation: str = "relu"
  conv_impl: str = "xla"
  classes: int = 10

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    act = ops.get_activation(self.activation)
    x = act(ConvBN(self.width, 3, 1, self.batch_norm, self.conv_impl, name="stem")(x, train))
    x = ops.pool2d(x, kind="max", window=2)
    blocks = self.depth // (2 * self.stages)
    for s in range(self.stages):
      for b in range(blocks):
        stride = 2 if s > 0 and b == 0 else 1
        x = Block(features=self.width * 2 ** s, stride=stride, residual=self.residual,
                  batch_norm=self.batch_norm, activation=self.activation,
                  impl=self.conv_impl, name=f"stage{s + 1}_block{b + 1}")(x, train)
    return Dense(self.classes, name="output")(jnp.mean(x, axis=(1, 2)))


@register("resnet", "residual network (He et al. 2016) for MNIST: 3x3 stem, 2x2 max-pool, "
          "`depth` 3x3 convolutions in residual blocks over `stages` stages (maps doubling, "
          "size halving), global average pooling, 10 outputs; residual=False: the plain net")
def resnet(depth: int = 8, residual: bool = True, width: int = 16, stages: int = 2,
           batch_norm: bool = True, activation: str = "relu", conv_impl: str = "xla") -> ResNet:
  if depth < 2 * stages or depth % (2 * stages):
    raise ValueError(f"depth must be a positive multiple of 2 * stages = {2 * stages} (two "
                     f"convolutions per block, the same number of blocks per stage), got {depth}")
  if width < 1 or stages < 1:
    raise ValueError(f"width and stages must be >= 1, got width={width}, stages={stages}")
  if conv_impl not in ops.IMPLS:
    raise ValueError(f"unknown conv_impl {conv_impl!r}; known: {', '.join(ops.IMPLS)}")
  ops.get_activation(activation)
  return ResNet(depth=depth, residual=residual, width=width, stages=stages,
                batch_norm=batch_norm, activation=activation, conv_impl=conv_impl)
