"""Convolutional networks: stacked convolution + pooling layers, then fully
connected hidden layers and a linear output layer (Lecture 7, "ConvNet").

The lecture's simple ConvNet is ``conv_features=(20,)``, ``hidden=(100,)``:
20 feature maps of 5x5 on the 28x28 input (24x24 each), 2x2 max-pooling
(12x12), 100 hidden units, 10 outputs:
``20 * (5*5 + 1) + 20*12*12 * 100 + 100 + 100*10 + 10 = 289,630`` weights.
Further conv layers see all maps of the layer below (each unit of a second
5x5 layer on 20 maps has 20 * 5 * 5 = 500 weights + 1 bias).

Optional: ``batch_norm`` normalises every conv and hidden layer's
pre-activations (Ioffe & Szegedy 2015; the layers' biases are dropped for
BN's shift, and each layer gains a scale and a shift per map or unit), and
``dropout`` drops fully connected hidden units (Srivastava et al. 2014).

The first layer's kernels can start from the lecture's hand-designed image
kernels (``first_kernels="hand_designed"``, :mod:`convnets.ops.kernels`:
identity, three edge detectors, sharpen; 5 maps) instead of random ones, and
can be held fixed (``first_fixed``: kernel and bias never updated,
:func:`convnets.train.optim.freeze`), so that the layers above learn from
fixed features: Lecture 7's "we can learn multiple kernel functions ...
automating feature engineering" put to the test.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from convnets import ops
from convnets.ops.kernels import HAND_DESIGNED, hand_designed_bank
from convnets.layers import ConvPool, Dense, check_dropout, hidden_layers
from convnets.models.registry import register

FIRST_KERNELS = ("random", "hand_designed")


class ConvNet(nn.Module):
  """``(N, H, W, C) -> (N, classes)`` logits."""
  conv_features: Sequence[int] = (20,)
  kernel_size: int = 5
  conv_stride: int = 1
  padding: str = "VALID"
  conv_mode: str = "xcorr"
  conv_impl: str = "auto"
  pooling: str = "max"
  pool_window: int = 2
  pool_stride: int | None = None
  pool_p: float = 2.0
  learnable_p: bool = False
  hidden: Sequence[int] = (100,)
  activation: str = "relu"
  classes: int = 10
  batch_norm: bool = False
  dropout: float = 0.0
  first_kernels: str = "random"
  first_fixed: bool = False

  @property
  def fixed_params(self) -> tuple[tuple[str, ...], ...]:
    """The parameter subtrees training leaves as initialised
    (:func:`convnets.train.optim.fixed_params`)."""
    return (("conv1", "conv"),) if self.first_fixed else ()

  def _kernel_init(self, layer: int):
    """Layer ``layer``'s kernel initialiser (the hand-designed bank is for one input map)."""
    if layer > 0 or self.first_kernels == "random":
      return nn.initializers.lecun_normal()
    bank = jnp.asarray(hand_designed_bank(self.kernel_size))
    return lambda key, shape, dtype=jnp.float32: bank.reshape(shape).astype(dtype)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    for i, features in enumerate(self.conv_features):
      x = ConvPool(features=features, kernel_size=self.kernel_size,
                   kernel_init=self._kernel_init(i), activation=self.activation,
                   mode=self.conv_mode, stride=self.conv_stride,
                   padding=self.padding, impl=self.conv_impl, pooling=self.pooling,
                   pool_window=self.pool_window, pool_stride=self.pool_stride, p=self.pool_p,
                   learnable_p=self.learnable_p, batch_norm=self.batch_norm,
                   name=f"conv{i + 1}")(x, train)
    x = x.reshape(x.shape[0], -1)
    x = hidden_layers(x, self.hidden, self.activation, batch_norm=self.batch_norm,
                      dropout=self.dropout, train=train)
    return Dense(self.classes, name="output")(x)


@register("convnet", "the lecture's simple ConvNet: 20 maps 5x5, 2x2 max-pool, 100 hidden, "
          "10 outputs (289,630 weights)")
def convnet(conv_features: Sequence[int] = (20,), kernel_size: int = 5, conv_stride: int = 1,
            padding: str = "VALID", conv_mode: str = "xcorr", conv_impl: str = "auto",
            pooling: str = "max", pool_window: int = 2, pool_stride: int | None = None,
            pool_p: float = 2.0, learnable_p: bool = False, hidden: Sequence[int] = (100,),
            activation: str = "relu", batch_norm: bool = False, dropout: float = 0.0, *,
            first_kernels: str = "random", first_fixed: bool = False) -> ConvNet:
  """``first_kernels``: ``"random"`` (LeCun normal) or ``"hand_designed"`` (the
  lecture's 5 image kernels, :data:`convnets.ops.kernels.HAND_DESIGNED`, in the
  centre of each window: ``conv_features[0]`` must be 5, ``kernel_size`` odd);
  ``first_fixed``: the first layer's kernels and biases are never trained."""
  if pooling not in ops.KINDS + ("none",):
    raise ValueError(f"unknown pooling {pooling!r}; known: {', '.join(ops.KINDS + ('none',))}")
  if conv_mode not in ops.MODES:
    raise ValueError(f"unknown conv_mode {conv_mode!r}; known: {', '.join(ops.MODES)}")
  if conv_impl not in ops.IMPLS:
    raise ValueError(f"unknown conv_impl {conv_impl!r}; known: {', '.join(ops.IMPLS)}")
  ops.get_activation(activation)
  check_dropout(dropout)
  _check_first_kernels(first_kernels, conv_features, kernel_size)
  return ConvNet(conv_features=tuple(conv_features), kernel_size=kernel_size,
                 conv_stride=conv_stride, padding=padding, conv_mode=conv_mode,
                 conv_impl=conv_impl, pooling=pooling, pool_window=pool_window,
                 pool_stride=pool_stride, pool_p=pool_p, learnable_p=learnable_p,
                 hidden=tuple(hidden), activation=activation, batch_norm=batch_norm,
                 dropout=dropout, first_kernels=first_kernels, first_fixed=first_fixed)


def _check_first_kernels(first_kernels: str, conv_features: Sequence[int],
                         kernel_size: int) -> None:
  if first_kernels not in FIRST_KERNELS:
    raise ValueError(f"unknown first_kernels {first_kernels!r}; known: {', '.join(FIRST_KERNELS)}")
  if first_kernels == "random":
    return
  if not conv_features or conv_features[0] != len(HAND_DESIGNED):
    raise ValueError(f"first_kernels='hand_designed' gives {len(HAND_DESIGNED)} maps: set "
                     f"conv_features to start with {len(HAND_DESIGNED)}, not "
                     f"{tuple(conv_features)}")
  hand_designed_bank(kernel_size)
